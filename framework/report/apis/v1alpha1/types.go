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
	// Engine is the container engine meshconform provisioned the clusters on (absent for brought clusters).
	Engine *Engine `json:"engine,omitempty"`

	Result     Result       `json:"result"`
	Summary    string       `json:"summary"`
	Statistics Statistics   `json:"statistics"`
	Areas      []AreaResult `json:"areas"`
	// Profiles are the conformance profiles whose topology shape the tested topology has, in the order of
	// Profiles, each with its core and extended results. Absent when no profile applies (or the environment was
	// unknown), and in reports written before profiles existed.
	Profiles []ProfileReport `json:"profiles,omitempty"`
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

// Engine is a container engine: its server version and, when DOCKER_HOST named it, its address.
type Engine struct {
	Version string `json:"version"`
	Host    string `json:"host,omitempty"`
}

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
	// Revision is the istiod revision (or revision tag) the run was told to test (--revision, the topology's
	// spec.mesh.revision); each cluster's injection says which revision its workloads were injected by.
	Revision string `json:"revision,omitempty"`
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
	// Injection is how the cluster's test workloads were injected: the namespace label and the istiod revision.
	Injection *Injection `json:"injection,omitempty"`
	// Istiods are every istiod revision the cluster runs, with the version each reported.
	Istiods []Istiod `json:"istiods,omitempty"`
}

// Injection is the namespace label a cluster's test workloads were injected by and the revision it selects.
type Injection struct {
	// Label is e.g. istio-injection=enabled or istio.io/rev=canary.
	Label string `json:"label"`
	// Revision is the istiod revision (a tag resolved: Tag names it).
	Revision string `json:"revision"`
	Tag      string `json:"tag,omitempty"`
}

// Istiod is one istiod revision of a cluster.
type Istiod struct {
	Revision   string   `json:"revision"`
	Deployment string   `json:"deployment"`
	Version    string   `json:"version,omitempty"`
	Tags       []string `json:"tags,omitempty"`
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

// ProfileReport is the result of one conformance profile (modelled on gateway-api's ConformanceProfile): the
// profile's core and extended support levels, each with its result, the specs that count in it and the features it
// covers.
//
// Result, from the two levels:
//
//   - failure: the core level failed (an extended failure alone never fails a profile).
//   - success: the core level succeeded, and the extended level succeeded or has nothing this topology exercises
//     (notApplicable).
//   - skipped: no core spec ran, and no extended spec either.
//   - partial: anything else: a core spec could not run here, did not run or did not apply (so the profile cannot
//     be claimed), or the extended level failed, is partial, or ran nothing.
type ProfileReport struct {
	Name Profile `json:"name"`
	// Shape is the topology shape the profile applies to, e.g. "at least 2 primary clusters".
	Shape   string `json:"shape"`
	Result  Result `json:"result"`
	Summary string `json:"summary"`
	// Core are the specs every conforming mesh of the shape must pass.
	Core ProfileLevel `json:"core"`
	// Extended are the specs of features a mesh of the shape may support.
	Extended ProfileLevel `json:"extended"`
}

// ProfileLevel is one support level of a profile.
//
// Result, from the level's specs (Statistics counts them: passed, failed, skipped = could not run here or did not
// run, notApplicable = unsupported):
//
//   - failure: some spec failed.
//   - success: every spec passed; in the extended level, specs that do not apply (unsupported features) are allowed.
//     A core spec that does not apply makes the core level partial: core is what every mesh of the shape must pass.
//   - partial: specs passed, but others could not run here or did not run (or, in core, did not apply).
//   - skipped: no spec passed and none failed, and some did not run.
//   - notApplicable: (extended only) every spec, if any, does not apply: the topology exercises none of its features.
type ProfileLevel struct {
	Result     Result     `json:"result"`
	Statistics Statistics `json:"statistics"`
	// Specs are the short names of the specs that count in this level, in declaration order.
	Specs []string `json:"specs"`
	// SupportedFeatures are the level's features the tested topology exercises: some spec of the feature applies
	// (whether it then passed, failed or could not run here).
	SupportedFeatures []ProfileFeature `json:"supportedFeatures,omitempty"`
	// UnsupportedFeatures are the level's features the tested topology does not exercise: every spec of the feature
	// was skipped as not applicable.
	UnsupportedFeatures []ProfileFeature `json:"unsupportedFeatures,omitempty"`
	// FailedSpecs are the short names of the level's specs that failed.
	FailedSpecs []string `json:"failedSpecs,omitempty"`
	// SkippedSpecs are the level's specs that apply but did not run: they could not run here (cannotRunHere) or did
	// not run (notRun). They are not unsupported: nothing is known about them.
	SkippedSpecs []ProfileSkip `json:"skippedSpecs,omitempty"`
	// UnsupportedSpecs are the level's specs that do not apply to the tested topology (cause notApplicable).
	UnsupportedSpecs []ProfileSkip `json:"unsupportedSpecs,omitempty"`
}

// ProfileSkip is a spec of a profile level that did not run, with why.
type ProfileSkip struct {
	// Name is the spec's short name.
	Name   string    `json:"name"`
	Cause  SkipCause `json:"cause"`
	Reason string    `json:"reason"`
}
