// Package report turns a Ginkgo run of the conformance suites into meshconform's reports and writes them: JUnit and
// Ginkgo JSON for CI, the machine-readable ConformanceReport (schema in apis/v1alpha1, modelled on gateway-api's) for
// vendors, a self-contained HTML page and, on failure, every cluster's artifacts.
//
// A report directory holds:
//
//	junit.xml                 JUnit for CI UIs (WriteGinkgoReports, or Ginkgo's own reporter)
//	ginkgo-report.json        Ginkgo's own JSON report
//	conformance-report.yaml   the ConformanceReport (WriteYAML)
//	report.html               the same, readable, with the load-balancing charts (WriteHTML)
//	artifacts/<cluster>/...   per-cluster dumps on failure (package artifacts, through Write)
//
// Build classifies each spec by its labels and skip message (the vocabulary of apis/v1alpha1); the results of an
// area and of the run are documented on v1alpha1.Result. Given the profile definitions (Options.Profiles, which
// package suites declares), it also reports every profile whose topology shape the tested topology has (profiles.go;
// results documented on v1alpha1.ProfileReport and ProfileLevel). Validate checks a report file against the JSON
// Schema (apis/v1alpha1/schema.json) and Check against the rules the schema cannot say.
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
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/text"
)

// maxMessage caps a failure message in the report; the whole message stays in junit.xml and ginkgo-report.json.
const maxMessage = 2000

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
	// Profiles are the conformance profiles (package suites declares them); the report gives a result for each whose
	// shape the tested topology has. None: the report has no profiles.
	Profiles []ProfileDefinition
}

// Build summarises a Ginkgo report of the suites against the environment they ran on. st may be nil (e.g. the
// environment file could not be read); the report then says so in its warnings.
func Build(r types.Report, st *env.State, o Options) *v1alpha1.ConformanceReport {
	cr := &v1alpha1.ConformanceReport{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.Kind, MeshconformVersion: o.Version}
	started := o.Started
	if started.IsZero() {
		started = r.StartTime
	}
	if started.IsZero() {
		started = time.Now()
	}
	cr.Date = started.UTC().Format(time.RFC3339)
	describeEnvironment(cr, st)

	areas := map[v1alpha1.Area]*v1alpha1.AreaResult{}
	area := func(name v1alpha1.Area) *v1alpha1.AreaResult {
		if a, ok := areas[name]; ok {
			return a
		}
		a := &v1alpha1.AreaResult{Name: name}
		areas[name] = a
		return a
	}
	for _, name := range v1alpha1.Areas {
		area(name)
	}
	features := map[v1alpha1.Area]map[v1alpha1.Feature]bool{}
	inherited := beforeAllSkips(r.SpecReports)
	// Outcomes by short name (the spec:<short name> label), for the profiles.
	outcomes := map[string]outcome{}

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
		var o outcome
		switch {
		case s.State.Is(types.SpecStateFailureStates):
			a.Statistics.Failed++
			a.FailedSpecs = append(a.FailedSpecs, failedSpec(s))
			o.failed = true
		case s.State.Is(types.SpecStatePassed):
			a.Statistics.Passed++
			if s.NumAttempts > 1 && s.MaxMustPassRepeatedly <= 1 {
				a.Statistics.Flaked++
				o.flaked = true
			}
			o.passed = true
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			reason := skipReason(s, inherited)
			o.cause, o.reason = skipCause(s, inherited), reason
			if r, ok := strings.CutPrefix(reason, v1alpha1.NotApplicablePrefix); ok {
				a.Statistics.NotApplicable++
				a.NotApplicableSpecs = append(a.NotApplicableSpecs, v1alpha1.SkippedSpec{Name: specName, Reason: strings.TrimSpace(r)})
				o.reason = strings.TrimSpace(r)
			} else {
				a.Statistics.Skipped++
				a.SkippedSpecs = append(a.SkippedSpecs, v1alpha1.SkippedSpec{Name: specName, Reason: reason})
			}
		default:
			o = outcome{cause: v1alpha1.SkipNotRun, reason: "not run: Ginkgo state " + s.State.String()}
		}
		if short := labelsWithPrefix(s, v1alpha1.SpecLabelPrefix); len(short) > 0 {
			outcomes[short[0]] = o
		}
		if s.State.Is(types.SpecStatePassed | types.SpecStateFailureStates) {
			for _, f := range labelsWithPrefix(s, v1alpha1.FeatureLabelPrefix) {
				if features[name] == nil {
					features[name] = map[v1alpha1.Feature]bool{}
				}
				features[name][v1alpha1.Feature(f)] = true
			}
		}
		for _, e := range s.ReportEntries {
			if e.Name != v1alpha1.LBVerdictEntry {
				continue
			}
			v, err := decodeVerdict(e)
			if err != nil {
				cr.Warnings = append(cr.Warnings, fmt.Sprintf("spec %q: %s entry: %v", specName, v1alpha1.LBVerdictEntry, err))
				continue
			}
			cr.LoadBalancing = append(cr.LoadBalancing, v1alpha1.LBResult{Spec: specName, Verdict: v})
		}
	}
	for _, reason := range r.SpecialSuiteFailureReasons {
		// Ginkgo records a Skip() in BeforeSuite as a special reason too; it is a skip, and the specs say so.
		if reason == "Suite skipped in BeforeSuite" {
			continue
		}
		cr.SuiteFailures = append(cr.SuiteFailures, v1alpha1.FailedSpec{Name: "suite", State: "failed", Message: reason})
	}

	var extra []v1alpha1.Area
	for name := range areas {
		if !slices.Contains(v1alpha1.Areas, name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range append(slices.Clone(v1alpha1.Areas), extra...) {
		a := areas[name]
		for f := range features[name] {
			a.Features = append(a.Features, f)
		}
		slices.Sort(a.Features)
		a.Result = result(a.Statistics)
		a.Summary = summary(a.Statistics)
		add(&cr.Statistics, a.Statistics)
		cr.Areas = append(cr.Areas, *a)
	}
	cr.Result = overall(cr.Areas, len(cr.SuiteFailures) > 0, cr.Statistics)
	cr.Summary = runSummary(cr)
	cr.Profiles = profileReports(o.Profiles, st, outcomes)

	sort.SliceStable(cr.LoadBalancing, func(i, j int) bool { return cr.LoadBalancing[i].Source < cr.LoadBalancing[j].Source })
	cr.Timings = timings(st, r, o)
	cr.Reproduce = v1alpha1.Reproduce{Command: shellJoin(o.Command), Args: o.Command, Topology: o.TopologyFile,
		LabelFilter: r.SuiteConfig.LabelFilter}
	return cr
}

// describeEnvironment fills implementation, topology, data plane and notes from the environment file.
func describeEnvironment(cr *v1alpha1.ConformanceReport, st *env.State) {
	cr.Implementation.Name = "istio"
	if st == nil {
		cr.Warnings = append(cr.Warnings, "no environment state: implementation and topology are unknown")
		return
	}
	cr.ImageSource = string(st.Images.Source)
	if e := st.Engine; e != nil {
		cr.Engine = &v1alpha1.Engine{Version: e.Version, Host: e.Host}
	}
	if m := st.Mesh; m != nil {
		cr.Implementation = v1alpha1.Implementation{Name: "istio", Version: m.IstioVersion, Installer: string(m.Installer), Hub: m.Hub,
			Tag: m.Tag, TrustDomain: m.TrustDomain, RootFingerprint: m.RootFingerprint, Revision: m.Revision}
		cr.DataPlane = string(m.DataPlane)
		cr.ExposeIstiod = string(m.ExposeIstiod)
		cr.Notes = slices.Clone(m.Notes)
	} else {
		cr.Warnings = append(cr.Warnings, "the environment records no mesh installation")
	}
	t := st.Topology
	cr.Topology = v1alpha1.Topology{Name: t.Name, Networking: string(t.Networking), MeshID: t.MeshID}
	for _, c := range st.Clusters {
		rc := v1alpha1.Cluster{Name: c.Name, Role: string(c.Role), Network: c.Network, Primary: c.Primary, BringYourOwn: !c.Provisioned}
		if m := st.Mesh; m != nil {
			in := m.InjectionOf(c.Name)
			rc.Injection = &v1alpha1.Injection{Label: in.Label + "=" + in.Value, Revision: in.Revision, Tag: in.Tag}
			for _, d := range m.Clusters[c.Name].Istiods {
				rc.Istiods = append(rc.Istiods, v1alpha1.Istiod{Revision: d.Revision, Deployment: d.Deployment, Version: d.Version,
					Tags: slices.Clone(d.Tags)})
			}
		}
		cr.Topology.Clusters = append(cr.Topology.Clusters, rc)
	}
}

// areaOf is the spec's area label; specs without one go to v1alpha1.UnlabelledArea.
func areaOf(s types.SpecReport) v1alpha1.Area {
	if a := labelsWithPrefix(s, v1alpha1.AreaLabelPrefix); len(a) > 0 {
		return v1alpha1.Area(a[0])
	}
	return v1alpha1.UnlabelledArea
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

// skipMessage is the message a skipped spec gave, or the one its Ordered container's BeforeAll gave.
func skipMessage(s types.SpecReport, inherited map[string]string) string {
	m := strings.TrimSpace(s.Failure.Message)
	if m == beforeAllSkipMessage {
		if r, ok := inherited[containerKey(s)]; ok {
			return r
		}
	}
	return m
}

// skipCause classifies a skipped (or pending) spec by its skip message's prefix.
func skipCause(s types.SpecReport, inherited map[string]string) v1alpha1.SkipCause {
	if s.State.Is(types.SpecStatePending) {
		return v1alpha1.SkipNotRun
	}
	m := skipMessage(s, inherited)
	if strings.HasPrefix(m, v1alpha1.NotApplicablePrefix) {
		return v1alpha1.SkipNotApplicable
	}
	if r, ok := strings.CutPrefix(m, v1alpha1.CannotRunHerePrefix); ok && strings.TrimSpace(r) != "" {
		return v1alpha1.SkipCannotRunHere
	}
	return v1alpha1.SkipNotRun
}

// skipReason is why a spec did not run.
func skipReason(s types.SpecReport, inherited map[string]string) string {
	if s.State.Is(types.SpecStatePending) {
		return "pending (marked pending in the suite)"
	}
	m := skipMessage(s, inherited)
	if m == "" {
		// Ginkgo gives no message for specs left out by --label-filter/--focus, or not reached after an interrupt.
		return "not run: not selected by the label filter or focus, or the suite stopped before it"
	}
	if r, ok := strings.CutPrefix(m, v1alpha1.CannotRunHerePrefix); ok && strings.TrimSpace(r) != "" {
		m = r
	}
	return trim(m)
}

func failedSpec(s types.SpecReport) v1alpha1.FailedSpec {
	f := v1alpha1.FailedSpec{Name: s.FullText(), State: s.State.String()}
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

// add counts o into s.
func add(s *v1alpha1.Statistics, o v1alpha1.Statistics) {
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Skipped += o.Skipped
	s.NotApplicable += o.NotApplicable
	s.Flaked += o.Flaked
}

// result applies the area semantics of v1alpha1.Result.
func result(s v1alpha1.Statistics) v1alpha1.Result {
	switch {
	case s.Failed > 0:
		return v1alpha1.ResultFailure
	case s.Passed == 0 && s.Skipped == 0 && s.NotApplicable > 0:
		return v1alpha1.ResultNotApplicable
	case s.Passed == 0:
		return v1alpha1.ResultSkipped
	case s.Skipped > 0:
		return v1alpha1.ResultPartial
	default:
		return v1alpha1.ResultSuccess
	}
}

func summary(s v1alpha1.Statistics) string {
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

func overall(areas []v1alpha1.AreaResult, suiteFailed bool, total v1alpha1.Statistics) v1alpha1.Result {
	if suiteFailed {
		return v1alpha1.ResultFailure
	}
	partial := false
	for _, a := range areas {
		switch a.Result {
		case v1alpha1.ResultFailure:
			return v1alpha1.ResultFailure
		case v1alpha1.ResultPartial, v1alpha1.ResultSkipped:
			partial = true
		}
	}
	switch {
	case total.Passed == 0:
		return v1alpha1.ResultSkipped
	case partial:
		return v1alpha1.ResultPartial
	default:
		return v1alpha1.ResultSuccess
	}
}

func runSummary(cr *v1alpha1.ConformanceReport) string {
	counts := map[v1alpha1.Result][]string{}
	for _, a := range cr.Areas {
		counts[a.Result] = append(counts[a.Result], string(a.Name))
	}
	var parts []string
	for _, r := range []v1alpha1.Result{v1alpha1.ResultFailure, v1alpha1.ResultPartial, v1alpha1.ResultSkipped, v1alpha1.ResultSuccess, v1alpha1.ResultNotApplicable} {
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
func timings(st *env.State, r types.Report, o Options) []v1alpha1.Timing {
	var out []v1alpha1.Timing
	var total time.Duration
	if st != nil {
		phases := slices.Clone(st.Phases)
		sort.SliceStable(phases, func(i, j int) bool { return phases[i].Done.Before(phases[j].Done) })
		// Phases may overlap (MetalLB runs while the mesh installs): the total is the wall time from the first
		// phase's start to the last one's end, not their sum.
		var first, last time.Time
		for _, p := range phases {
			out = append(out, timing(p.Name, p.Duration))
			if start := p.Done.Add(-p.Duration); first.IsZero() || start.Before(first) {
				first = start
			}
			if p.Done.After(last) {
				last = p.Done
			}
		}
		total = last.Sub(first)
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

func timing(name string, d time.Duration) v1alpha1.Timing {
	return v1alpha1.Timing{Phase: name, Duration: d.Round(time.Millisecond).String(), Seconds: d.Round(time.Millisecond).Seconds()}
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
