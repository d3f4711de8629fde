// Package report turns a Ginkgo run of the conformance suites into meshconform's reports: JUnit and Ginkgo JSON for
// CI, a machine-readable ConformanceReport (modelled on gateway-api's) for vendors, and a self-contained HTML page.
//
// A report directory holds:
//
//	junit.xml                 JUnit for CI UIs (WriteGinkgoReports)
//	ginkgo-report.json        Ginkgo's own JSON report (WriteGinkgoReports)
//	conformance-report.yaml   the ConformanceReport (WriteYAML)
//	report.html               the same, readable, with the load-balancing charts (WriteHTML)
//	artifacts/<cluster>/...   per-cluster dumps (package artifacts)
//
// Results of an area (a spec's `area:<a>` label), from its specs:
//
//   - failure: some spec failed (failed, panicked, timed out, interrupted or aborted).
//   - success: every spec that applies to this topology ran and passed.
//   - partial: specs passed, but others were skipped for a reason (they could not run here, e.g. no Envoy image).
//   - skipped: no spec of the area ran (each was skipped, or the run had none).
//   - notApplicable: every spec of the area reported that it does not apply to this topology (a skip message
//     starting with "not applicable: "); such specs never count against an area.
//
// The overall result is failure if any area failed or a suite-level node (BeforeSuite, ...) failed; skipped if no
// spec passed; partial if some area is partial or skipped; success otherwise.
package report

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/text"
)

// APIVersion and Kind identify a conformance report.
const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "ConformanceReport"
)

// Files of a report directory.
const (
	JUnitFile      = "junit.xml"
	GinkgoJSONFile = "ginkgo-report.json"
	YAMLFile       = "conformance-report.yaml"
	HTMLFile       = "report.html"
	ArtifactsDir   = "artifacts"
)

// The contract with the suites: spec labels, the skip-message prefix for specs that do not apply, and the report
// entry carrying a load-balancing verdict.
const (
	AreaLabelPrefix      = "area:"
	FeatureLabelPrefix   = "feature:"
	DataPlaneLabelPrefix = "dataplane:"
	NotApplicablePrefix  = "not applicable: "
	// CannotRunHerePrefix may start a skip message of a spec that applies but cannot run on this machine; the report
	// lists it as skipped, without the prefix (the section says it already).
	CannotRunHerePrefix = "cannot run here: "
	LBVerdictEntry      = "lb-verdict"
)

// Areas are the conformance areas, in report order.
var Areas = []string{"trust", "discovery", "gateway", "loadbalancing", "isolation", "doc-fidelity"}

// UnlabelledArea collects specs that carry no area label, so their failures are not lost.
const UnlabelledArea = "unlabelled"

// Result is the verdict of an area or of the whole run.
type Result string

const (
	ResultSuccess       Result = "success"
	ResultPartial       Result = "partial"
	ResultFailure       Result = "failure"
	ResultSkipped       Result = "skipped"
	ResultNotApplicable Result = "notApplicable"
)

// maxMessage caps a failure message in the report; the whole message stays in junit.xml and ginkgo-report.json.
const maxMessage = 2000

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

	Result     Result     `json:"result"`
	Summary    string     `json:"summary"`
	Statistics Statistics `json:"statistics"`
	Areas      []Area     `json:"areas"`
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

func (s *Statistics) add(o Statistics) {
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Skipped += o.Skipped
	s.NotApplicable += o.NotApplicable
	s.Flaked += o.Flaked
}

// Area is the result of one conformance area.
type Area struct {
	Name       string     `json:"name"`
	Result     Result     `json:"result"`
	Summary    string     `json:"summary"`
	Statistics Statistics `json:"statistics"`
	// Features are the topology features (feature:<f> labels) of the specs that ran.
	Features           []string      `json:"features,omitempty"`
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

// Options are what the report needs beyond the Ginkgo report and the environment.
type Options struct {
	// Command is the argv that reproduces the run (typically os.Args).
	Command []string
	// TopologyFile is the topology file or built-in name given to the run.
	TopologyFile string
	// Version is meshconform's version.
	Version string
	// Started is when the run started; defaults to the suite's start time.
	Started time.Time
	// TestDuration overrides the suite's run time as the "test" timing (e.g. to include report writing).
	TestDuration time.Duration
}

// Build summarises a Ginkgo report of the suites against the environment they ran on. st may be nil (e.g. the
// environment file could not be read); the report then says so in its warnings.
func Build(r types.Report, st *env.State, o Options) *ConformanceReport {
	cr := &ConformanceReport{APIVersion: APIVersion, Kind: Kind, MeshconformVersion: o.Version}
	started := o.Started
	if started.IsZero() {
		started = r.StartTime
	}
	if started.IsZero() {
		started = time.Now()
	}
	cr.Date = started.UTC().Format(time.RFC3339)
	cr.describeEnvironment(st)

	areas := map[string]*Area{}
	area := func(name string) *Area {
		if a, ok := areas[name]; ok {
			return a
		}
		a := &Area{Name: name}
		areas[name] = a
		return a
	}
	for _, name := range Areas {
		area(name)
	}
	features := map[string]map[string]bool{}
	inherited := beforeAllSkips(r.SpecReports)

	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if s.State.Is(types.SpecStateFailureStates) {
				cr.SuiteFailures = append(cr.SuiteFailures, failedSpec(s))
			}
			continue
		}
		name := areaOf(s)
		a := area(name)
		specName := s.FullText()
		switch {
		case s.State.Is(types.SpecStateFailureStates):
			a.Statistics.Failed++
			a.FailedSpecs = append(a.FailedSpecs, failedSpec(s))
		case s.State.Is(types.SpecStatePassed):
			a.Statistics.Passed++
			if s.NumAttempts > 1 && s.MaxMustPassRepeatedly <= 1 {
				a.Statistics.Flaked++
			}
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			reason := skipReason(s, inherited)
			if r, ok := strings.CutPrefix(reason, NotApplicablePrefix); ok {
				a.Statistics.NotApplicable++
				a.NotApplicableSpecs = append(a.NotApplicableSpecs, SkippedSpec{Name: specName, Reason: strings.TrimSpace(r)})
			} else {
				a.Statistics.Skipped++
				a.SkippedSpecs = append(a.SkippedSpecs, SkippedSpec{Name: specName, Reason: reason})
			}
		}
		if s.State.Is(types.SpecStatePassed | types.SpecStateFailureStates) {
			for _, f := range labelsWithPrefix(s, FeatureLabelPrefix) {
				if features[name] == nil {
					features[name] = map[string]bool{}
				}
				features[name][f] = true
			}
		}
		for _, e := range s.ReportEntries {
			if e.Name != LBVerdictEntry {
				continue
			}
			v, err := decodeVerdict(e)
			if err != nil {
				cr.Warnings = append(cr.Warnings, fmt.Sprintf("spec %q: %s entry: %v", specName, LBVerdictEntry, err))
				continue
			}
			cr.LoadBalancing = append(cr.LoadBalancing, LBResult{Spec: specName, Verdict: v})
		}
	}
	for _, reason := range r.SpecialSuiteFailureReasons {
		// Ginkgo records a Skip() in BeforeSuite as a special reason too; it is a skip, and the specs say so.
		if reason == "Suite skipped in BeforeSuite" {
			continue
		}
		cr.SuiteFailures = append(cr.SuiteFailures, FailedSpec{Name: "suite", State: "failed", Message: reason})
	}

	var extra []string
	for name := range areas {
		if !slices.Contains(Areas, name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range append(slices.Clone(Areas), extra...) {
		a := areas[name]
		for f := range features[name] {
			a.Features = append(a.Features, f)
		}
		sort.Strings(a.Features)
		a.Result = a.Statistics.result()
		a.Summary = a.Statistics.summary()
		cr.Statistics.add(a.Statistics)
		cr.Areas = append(cr.Areas, *a)
	}
	cr.Result = overall(cr.Areas, len(cr.SuiteFailures) > 0, cr.Statistics)
	cr.Summary = cr.summary()

	sort.SliceStable(cr.LoadBalancing, func(i, j int) bool { return cr.LoadBalancing[i].Source < cr.LoadBalancing[j].Source })
	cr.Timings = timings(st, r, o)
	cr.Reproduce = Reproduce{Command: shellJoin(o.Command), Args: o.Command, Topology: o.TopologyFile,
		LabelFilter: r.SuiteConfig.LabelFilter}
	return cr
}

// describeEnvironment fills implementation, topology, data plane and notes from the environment file.
func (cr *ConformanceReport) describeEnvironment(st *env.State) {
	cr.Implementation.Name = "istio"
	if st == nil {
		cr.Warnings = append(cr.Warnings, "no environment state: implementation and topology are unknown")
		return
	}
	cr.ImageSource = string(st.Images.Source)
	if m := st.Mesh; m != nil {
		cr.Implementation = Implementation{Name: "istio", Version: m.IstioVersion, Installer: string(m.Installer), Hub: m.Hub,
			Tag: m.Tag, TrustDomain: m.TrustDomain, RootFingerprint: m.RootFingerprint}
		cr.DataPlane = string(m.DataPlane)
		cr.ExposeIstiod = string(m.ExposeIstiod)
		cr.Notes = slices.Clone(m.Notes)
	} else {
		cr.Warnings = append(cr.Warnings, "the environment records no mesh installation")
	}
	t := st.Topology
	cr.Topology = Topology{Name: t.Name, Networking: string(t.Networking), MeshID: t.MeshID}
	for _, c := range st.Clusters {
		cr.Topology.Clusters = append(cr.Topology.Clusters, Cluster{Name: c.Name, Role: string(c.Role),
			Network: c.Network, Primary: c.Primary, BringYourOwn: !c.Provisioned})
	}
}

// areaOf is the spec's area label; specs without one go to UnlabelledArea.
func areaOf(s types.SpecReport) string {
	if a := labelsWithPrefix(s, AreaLabelPrefix); len(a) > 0 {
		return a[0]
	}
	return UnlabelledArea
}

func labelsWithPrefix(s types.SpecReport, prefix string) []string {
	var out []string
	for _, l := range s.Labels() {
		if v, ok := strings.CutPrefix(l, prefix); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// beforeAllSkipMessage is what Ginkgo records for the later specs of an Ordered container whose BeforeAll called
// Skip: only the first spec carries the Skip message itself.
const beforeAllSkipMessage = "Spec skipped because Skip() was called in BeforeAll"

// beforeAllSkips maps an Ordered container (by its location) to the Skip message its BeforeAll gave, so that every
// spec of the container reports the real reason (and "not applicable" stays not applicable).
func beforeAllSkips(specs types.SpecReports) map[string]string {
	out := map[string]string{}
	for _, s := range specs {
		if s.LeafNodeType != types.NodeTypeIt || !s.State.Is(types.SpecStateSkipped) || !s.IsInOrderedContainer {
			continue
		}
		m := strings.TrimSpace(s.Failure.Message)
		if m == "" || strings.HasPrefix(m, "Spec skipped because") || s.Failure.FailureNodeType != types.NodeTypeBeforeAll {
			continue
		}
		out[containerKey(s)] = m
	}
	return out
}

func containerKey(s types.SpecReport) string {
	var b strings.Builder
	for _, l := range s.ContainerHierarchyLocations {
		fmt.Fprintf(&b, "%s:%d;", l.FileName, l.LineNumber)
	}
	return b.String()
}

// skipReason is why a spec did not run.
func skipReason(s types.SpecReport, inherited map[string]string) string {
	if s.State.Is(types.SpecStatePending) {
		return "pending (marked pending in the suite)"
	}
	m := strings.TrimSpace(s.Failure.Message)
	if m == beforeAllSkipMessage {
		if r, ok := inherited[containerKey(s)]; ok {
			return r
		}
	}
	if m == "" {
		// Ginkgo gives no message for specs left out by --label-filter/--focus, or not reached after an interrupt.
		return "not run: not selected by the label filter or focus, or the suite stopped before it"
	}
	if r, ok := strings.CutPrefix(m, CannotRunHerePrefix); ok && strings.TrimSpace(r) != "" {
		m = r
	}
	return trim(m)
}

func failedSpec(s types.SpecReport) FailedSpec {
	f := FailedSpec{Name: s.FullText(), State: s.State.String()}
	if f.Name == "" {
		f.Name = "[" + s.LeafNodeType.String() + "]"
	}
	if nt := s.Failure.FailureNodeType; nt != types.NodeTypeInvalid && nt != types.NodeTypeIt {
		f.FailedIn = nt.String()
	}
	if l := s.Failure.Location; l.FileName != "" {
		f.Location = fmt.Sprintf("%s:%d", shortPath(l.FileName), l.LineNumber)
	}
	msg := s.Failure.Message
	if p := s.Failure.ForwardedPanic; p != "" {
		msg = strings.TrimSpace(msg + "\n" + p)
	}
	// A spec that hit its timeout carries the check's last diagnosis as the additional failure.
	if a := s.Failure.AdditionalFailure; a != nil && a.Failure.Message != "" {
		msg = strings.TrimSpace(msg + "\n" + a.Failure.Message)
	}
	f.Message = trim(msg)
	return f
}

// shortPath keeps the last directory and the file name: enough to find the spec, without the build host's paths.
func shortPath(p string) string {
	return filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p))
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d more bytes in %s)", len(s)-cut, JUnitFile)
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// decodeVerdict reads an lb.Verdict back from a report entry. In the process that ran the spec the entry holds the
// value itself; after Ginkgo's JSON round trip (parallel processes, a report read from disk) only AsJSON is exact.
func decodeVerdict(e types.ReportEntry) (lb.Verdict, error) {
	switch v := e.Value.GetRawValue().(type) {
	case lb.Verdict:
		return v, nil
	case *lb.Verdict:
		if v != nil {
			return *v, nil
		}
	}
	js := e.Value.AsJSON
	if js == "" {
		raw := e.Value.GetRawValue()
		if raw == nil {
			return lb.Verdict{}, fmt.Errorf("no value")
		}
		b, err := json.Marshal(raw)
		if err != nil {
			return lb.Verdict{}, fmt.Errorf("encode %T: %w", raw, err)
		}
		js = string(b)
	}
	var v lb.Verdict
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		return lb.Verdict{}, fmt.Errorf("decode as lb.Verdict: %w", err)
	}
	if v.Source == "" || len(v.Plan.Shares) == 0 {
		return lb.Verdict{}, fmt.Errorf("not an lb.Verdict (no source or plan): %s", text.Truncate(js, 200))
	}
	return v, nil
}

// result applies the area semantics of the package comment.
func (s Statistics) result() Result {
	switch {
	case s.Failed > 0:
		return ResultFailure
	case s.Passed == 0 && s.Skipped == 0 && s.NotApplicable > 0:
		return ResultNotApplicable
	case s.Passed == 0:
		return ResultSkipped
	case s.Skipped > 0:
		return ResultPartial
	default:
		return ResultSuccess
	}
}

func (s Statistics) summary() string {
	if s.Passed+s.Failed+s.Skipped+s.NotApplicable == 0 {
		return "no specs in this run"
	}
	parts := []string{fmt.Sprintf("%d passed", s.Passed)}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", s.Skipped))
	}
	if s.NotApplicable > 0 {
		parts = append(parts, fmt.Sprintf("%d not applicable", s.NotApplicable))
	}
	if s.Flaked > 0 {
		parts = append(parts, fmt.Sprintf("%d passed only on retry", s.Flaked))
	}
	return strings.Join(parts, ", ")
}

func overall(areas []Area, suiteFailed bool, total Statistics) Result {
	if suiteFailed {
		return ResultFailure
	}
	partial := false
	for _, a := range areas {
		switch a.Result {
		case ResultFailure:
			return ResultFailure
		case ResultPartial, ResultSkipped:
			partial = true
		}
	}
	switch {
	case total.Passed == 0:
		return ResultSkipped
	case partial:
		return ResultPartial
	default:
		return ResultSuccess
	}
}

func (cr *ConformanceReport) summary() string {
	counts := map[Result][]string{}
	for _, a := range cr.Areas {
		counts[a.Result] = append(counts[a.Result], a.Name)
	}
	var parts []string
	for _, r := range []Result{ResultFailure, ResultPartial, ResultSkipped, ResultSuccess, ResultNotApplicable} {
		if names := counts[r]; len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", r, strings.Join(names, ", ")))
		}
	}
	s := strings.Join(parts, "; ")
	if n := len(cr.SuiteFailures); n > 0 {
		s = fmt.Sprintf("%d suite-level failure(s); %s", n, s)
	}
	return s
}

// timings lists the phases of `up` in the order they ran, then the test run and the total.
func timings(st *env.State, r types.Report, o Options) []Timing {
	var out []Timing
	var total time.Duration
	if st != nil {
		phases := slices.Clone(st.Phases)
		sort.SliceStable(phases, func(i, j int) bool { return phases[i].Done.Before(phases[j].Done) })
		for _, p := range phases {
			out = append(out, timing(p.Name, p.Duration))
			total += p.Duration
		}
	}
	test := o.TestDuration
	if test == 0 {
		test = r.RunTime
	}
	if test == 0 && !r.StartTime.IsZero() && !r.EndTime.IsZero() {
		test = r.EndTime.Sub(r.StartTime)
	}
	if test == 0 && !o.Started.IsZero() {
		// Inside ReportAfterSuite the suite's end time may not be set yet: the run lasted until now.
		test = time.Since(o.Started)
	}
	if test > 0 {
		out = append(out, timing("test", test))
		total += test
	}
	if len(out) > 1 {
		out = append(out, timing("total", total))
	}
	return out
}

func timing(name string, d time.Duration) Timing {
	return Timing{Phase: name, Duration: d.Round(time.Millisecond).String(), Seconds: d.Round(time.Millisecond).Seconds()}
}

// shellJoin quotes argv for a POSIX shell, leaving plain words bare so the line stays readable.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Failed reports whether the run must fail a CI job: an area or a suite-level node failed. Partial and skipped
// results pass, since their specs said why they could not run; the report carries the reasons.
func (cr *ConformanceReport) Failed() bool { return cr.Result == ResultFailure }
