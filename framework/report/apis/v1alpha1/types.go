package v1alpha1

import "github.com/meshconform/meshconform/framework/lb"

// Result is the verdict of an area or of the whole run.
//
// Of an area, from its specs:
//
//   - failure: some spec failed (failed, panicked, timed out, interrupted or aborted).
//   - success: every spec that applies to this topology ran and passed.
//   - partial: specs passed, but others were skipped for a reason (they could not run here, e.g. no Envoy image).
//   - skipped: no spec of the area ran (each was skipped, or the run had none).
//   - notApplicable: every spec of the area reported that it does not apply to this topology (a skip message
//     starting with NotApplicablePrefix); such specs never count against an area.
//
// Of the run: failure if any area failed or a suite-level node (BeforeSuite, ...) failed; skipped if no spec passed;
// partial if some area is partial or skipped; success otherwise.
type Result string

const (
	ResultSuccess       Result = "success"
	ResultPartial       Result = "partial"
	ResultFailure       Result = "failure"
	ResultSkipped       Result = "skipped"
	ResultNotApplicable Result = "notApplicable"
)

// ConformanceReport is the machine-readable result of one conformance run.
type ConformanceReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Date is when the run started (RFC 3339, UTC).
	Date               string         `json:"date"`
	MeshconformVersion string         `json:"meshconformVersion"`
	Implementation     Implementation `json:"implementation"`
	Topology           Topology       `json:"topology"`
	// DataPlane is proxyless or sidecar.
	DataPlane string `json:"dataPlane"`
	// ImageSource is offline (images built here) or upstream (pulled from registries).
	ImageSource string `json:"imageSource"`
	// ExposeIstiod is how remotes reach their primary's istiod (gateway or loadbalancer).
	ExposeIstiod string `json:"exposeIstiod,omitempty"`

	Result     Result       `json:"result"`
	Summary    string       `json:"summary"`
	Statistics Statistics   `json:"statistics"`
	Areas      []AreaResult `json:"areas"`
	// SuiteFailures are failed suite-level nodes (BeforeSuite, AfterSuite, ...) and Ginkgo's special failure
	// reasons (interrupted, programmatic focus, ...): they fail the run without belonging to an area.
	SuiteFailures []FailedSpec `json:"suiteFailures,omitempty"`
	// LoadBalancing holds every load-balancing verdict the suites attached, per source cluster.
	LoadBalancing []LBResult `json:"loadBalancing,omitempty"`
	// Notes are facts about the environment the reader must know (from the environment's mesh notes).
	Notes []string `json:"notes,omitempty"`
	// Warnings are problems building the report itself (e.g. an undecodable verdict).
	Warnings  []string  `json:"warnings,omitempty"`
	Timings   []Timing  `json:"timings,omitempty"`
	Reproduce Reproduce `json:"reproduce"`
}

// Failed reports whether the run must fail a CI job: an area or a suite-level node failed. Partial and skipped
// results pass, since their specs said why they could not run; the report carries the reasons.
func (cr *ConformanceReport) Failed() bool { return cr.Result == ResultFailure }

// Implementation is the mesh under test.
type Implementation struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Installer is istioctl, helm or preinstalled.
	Installer       string `json:"installer"`
	Hub             string `json:"hub,omitempty"`
	Tag             string `json:"tag,omitempty"`
	TrustDomain     string `json:"trustDomain,omitempty"`
	RootFingerprint string `json:"rootFingerprint,omitempty"`
}

// Topology is the shape of the mesh that was tested.
type Topology struct {
	Name       string    `json:"name"`
	Networking string    `json:"networking"`
	MeshID     string    `json:"meshID,omitempty"`
	Clusters   []Cluster `json:"clusters"`
}

// Cluster is one cluster of the tested topology.
type Cluster struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Network string `json:"network"`
	// Primary is, for a remote, the primary whose istiod configures it.
	Primary string `json:"primary,omitempty"`
	// BringYourOwn is set for clusters meshconform did not provision.
	BringYourOwn bool `json:"bringYourOwn,omitempty"`
}

// Statistics count specs by outcome.
type Statistics struct {
	Passed        int `json:"passed"`
	Failed        int `json:"failed"`
	Skipped       int `json:"skipped"`
	NotApplicable int `json:"notApplicable"`
	// Flaked counts specs that passed only after a retry (Ginkgo's flake attempts): passes, but worth knowing.
	Flaked int `json:"flaked,omitempty"`
}

// AreaResult is the result of one conformance area.
type AreaResult struct {
	Name       Area       `json:"name"`
	Result     Result     `json:"result"`
	Summary    string     `json:"summary"`
	Statistics Statistics `json:"statistics"`
	// Features are the topology features (feature:<f> labels) of the specs that ran.
	Features           []Feature     `json:"features,omitempty"`
	FailedSpecs        []FailedSpec  `json:"failedSpecs,omitempty"`
	SkippedSpecs       []SkippedSpec `json:"skippedSpecs,omitempty"`
	NotApplicableSpecs []SkippedSpec `json:"notApplicableSpecs,omitempty"`
}

// FailedSpec is a spec (or suite node) that failed.
type FailedSpec struct {
	Name string `json:"name"`
	// State is Ginkgo's: failed, panicked, timedout, interrupted or aborted.
	State string `json:"state"`
	// FailedIn names the node that failed when it is not the It itself (e.g. BeforeAll).
	FailedIn string `json:"failedIn,omitempty"`
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

// SkippedSpec is a spec that did not run, with why.
type SkippedSpec struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// LBResult is one load-balancing verdict and the spec that made it.
type LBResult struct {
	Spec       string `json:"spec"`
	lb.Verdict `json:",inline"`
}

// Timing is one phase's duration.
type Timing struct {
	Phase    string  `json:"phase"`
	Duration string  `json:"duration"`
	Seconds  float64 `json:"seconds"`
}

// Reproduce is what a reader needs to run the same conformance run again.
type Reproduce struct {
	// Command is the command line, quoted for a POSIX shell.
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
	// Topology is the topology file (or built-in name) the run used.
	Topology    string `json:"topology,omitempty"`
	LabelFilter string `json:"labelFilter,omitempty"`
}
