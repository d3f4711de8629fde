package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
)

var loc = types.CodeLocation{FileName: "/home/ci/meshconform/suites/trust.go", LineNumber: 42}

// it is a spec report as Ginkgo produces it for an It under a Describe carrying the labels.
func it(text string, state types.SpecState, labels []string, msg string, entries ...types.ReportEntry) types.SpecReport {
	s := types.SpecReport{
		ContainerHierarchyTexts:     []string{"conformance"},
		ContainerHierarchyLocations: []types.CodeLocation{{FileName: "/x/suites/suite.go", LineNumber: 1}},
		ContainerHierarchyLabels:    [][]string{labels},
		LeafNodeType:                types.NodeTypeIt,
		LeafNodeText:                text,
		LeafNodeLocation:            loc,
		State:                       state,
		NumAttempts:                 1,
		ReportEntries:               entries,
		RunTime:                     time.Second,
	}
	if msg != "" {
		s.Failure = types.Failure{Message: msg, Location: loc, FailureNodeType: types.NodeTypeIt}
	}
	return s
}

// entry is an AddReportEntry(name, value) as Ginkgo records it in the spec's process: the raw value, no JSON yet.
func entry(name string, v any) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v), Time: time.Now(), Location: loc,
		Visibility: types.ReportEntryVisibilityFailureOrVerbose}
}

func verdict(t *testing.T, source string, endpoints map[string]int, tally map[string]int) lb.Verdict {
	t.Helper()
	p, err := lb.NewPlan(endpoints, lb.MaxFalseAlarm)
	if err != nil {
		t.Fatal(err)
	}
	return lb.Judge(p, source, tally, 0, 3)
}

func labels(area string, extra ...string) []string { return append([]string{"area:" + area}, extra...) }

func state() *env.State {
	st := (&topology.Topology{
		Metadata: topology.Metadata{Name: "primary-remote"},
		Spec: topology.Spec{Networking: topology.NetworkingBridged, Mesh: topology.Mesh{ID: "mesh1"},
			Clusters: []topology.Cluster{
				{Name: "cluster1", Role: topology.RolePrimary, Network: "network1"},
				{Name: "cluster2", Role: topology.RoleRemote, Network: "network1", Primary: "cluster1"},
			}},
	}).NewState(os.TempDir(), "test")
	st.Images = env.Images{Source: "offline"}
	st.Cluster("cluster1").Provisioned = true
	st.Cluster("cluster2").Provisioned = true
	st.Mesh = &env.Mesh{Installer: "istioctl", IstioVersion: "1.31-dev", Hub: "localhost/istio", Tag: "offline",
		DataPlane: "proxyless", ExposeIstiod: "loadbalancer", TrustDomain: "cluster.local", RootFingerprint: "ab:cd",
		Revision: "canary", Notes: []string{"east-west gateway pods cannot run: no Envoy image"},
		Clusters: map[string]env.MeshCluster{
			"cluster1": {Injection: &env.Injection{Label: "istio.io/rev", Value: "canary", Revision: "canary"},
				Istiods: []env.Istiod{{Revision: "canary", Deployment: "istiod-canary", Version: "1.31-dev", Tags: []string{"prod"}},
					{Revision: "default", Deployment: "istiod", Version: "1.30.2"}}},
			"cluster2": {Injection: &env.Injection{Label: "istio.io/rev", Value: "canary", Revision: "canary"}},
		}}
	st.Phases = []env.Phase{
		{Name: "clusters", Duration: 110 * time.Second, Done: time.Unix(110, 0)},
		{Name: "istio", Duration: 20 * time.Second, Done: time.Unix(130, 0)},
		// MetalLB ran in the background during istio: overlapping phases count once in the total.
		{Name: "metallb", Duration: 15 * time.Second, Done: time.Unix(125, 0)},
	}
	return st
}

func areaByName(t *testing.T, cr *v1alpha1.ConformanceReport, name string) v1alpha1.AreaResult {
	t.Helper()
	for _, a := range cr.Areas {
		if string(a.Name) == name {
			return a
		}
	}
	t.Fatalf("no area %q in %+v", name, cr.Areas)
	return v1alpha1.AreaResult{}
}

func TestAreaResults(t *testing.T) {
	r := types.Report{SuiteDescription: "meshconform", StartTime: time.Unix(1000, 0), RunTime: 90 * time.Second,
		SpecReports: types.SpecReports{
			// trust: passes, plus a spec that does not apply -> success
			it("roots equal", types.SpecStatePassed, labels("trust", "feature:primary-remote"), ""),
			it("mTLS identity", types.SpecStatePassed, labels("trust"), ""),
			it("gateway identity", types.SpecStateSkipped, labels("trust"), "not applicable: single network, no east-west gateway"),
			// discovery: a pass and a skip with a reason -> partial
			it("remote pod IPs", types.SpecStatePassed, labels("discovery", "dataplane:proxyless"), ""),
			it("sidecar endpoints", types.SpecStateSkipped, labels("discovery", "dataplane:sidecar", "needs:envoy"), "cannot run here: no Envoy image: the sidecar data plane cannot run here"),
			// gateway: a failure among passes -> failure
			it("IP not hostname", types.SpecStatePassed, labels("gateway"), ""),
			it("15443 answers", types.SpecStateFailed, labels("gateway"), "15443 on 172.18.255.200 refused from network2\nlikely cause: gateway pods not ready"),
			it("15012 answers", types.SpecStateTimedout, labels("gateway"), "timed out"),
			// loadbalancing: nothing ran -> skipped
			it("reaches every cluster", types.SpecStateSkipped, labels("loadbalancing"), "needs two clusters running the service"),
			// isolation: only not-applicable specs -> notApplicable
			it("pod IP unreachable", types.SpecStateSkipped, labels("isolation"), "not applicable: bridged networking"),
			it("node IP unreachable", types.SpecStateSkipped, labels("isolation"), "not applicable: bridged networking"),
			// doc-fidelity: absent -> skipped, "no specs"
			// a spec without an area is kept, not dropped
			it("stray", types.SpecStateFailed, nil, "boom"),
		}}
	cr := Build(r, state(), Options{Command: []string{"meshconform", "run", "--topology", "my topo.yaml"},
		TopologyFile: "my topo.yaml", Version: "v0.1.0"})

	want := map[v1alpha1.Area]struct {
		result v1alpha1.Result
		stats  v1alpha1.Statistics
	}{
		"trust":                 {v1alpha1.ResultSuccess, v1alpha1.Statistics{Passed: 2, NotApplicable: 1}},
		"discovery":             {v1alpha1.ResultPartial, v1alpha1.Statistics{Passed: 1, Skipped: 1}},
		"gateway":               {v1alpha1.ResultFailure, v1alpha1.Statistics{Passed: 1, Failed: 2}},
		"loadbalancing":         {v1alpha1.ResultSkipped, v1alpha1.Statistics{Skipped: 1}},
		"isolation":             {v1alpha1.ResultNotApplicable, v1alpha1.Statistics{NotApplicable: 2}},
		"doc-fidelity":          {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		"config":                {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		"failover":              {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		"scoping":               {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		"lifecycle":             {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		"authz":                 {v1alpha1.ResultSkipped, v1alpha1.Statistics{}},
		v1alpha1.UnlabelledArea: {v1alpha1.ResultFailure, v1alpha1.Statistics{Failed: 1}},
	}
	if len(cr.Areas) != len(want) {
		t.Fatalf("areas %d, want %d: %+v", len(cr.Areas), len(want), cr.Areas)
	}
	for i, name := range v1alpha1.Areas {
		if cr.Areas[i].Name != name {
			t.Errorf("area %d is %q, want %q (report order)", i, cr.Areas[i].Name, name)
		}
	}
	for name, w := range want {
		a := areaByName(t, cr, string(name))
		if a.Result != w.result || a.Statistics != w.stats {
			t.Errorf("%s: %s %+v, want %s %+v", name, a.Result, a.Statistics, w.result, w.stats)
		}
	}
	if cr.Result != v1alpha1.ResultFailure {
		t.Errorf("overall %s, want failure", cr.Result)
	}
	if got := cr.Statistics; got != (v1alpha1.Statistics{Passed: 4, Failed: 3, Skipped: 2, NotApplicable: 3}) {
		t.Errorf("totals %+v", got)
	}

	gw := areaByName(t, cr, "gateway")
	if len(gw.FailedSpecs) != 2 || gw.FailedSpecs[0].Name != "conformance 15443 answers" ||
		!strings.Contains(gw.FailedSpecs[0].Message, "likely cause: gateway pods not ready") ||
		gw.FailedSpecs[0].Location != "suites/trust.go:42" || gw.FailedSpecs[1].State != "timedout" {
		t.Errorf("gateway failed specs: %+v", gw.FailedSpecs)
	}
	d := areaByName(t, cr, "discovery")
	if len(d.SkippedSpecs) != 1 || d.SkippedSpecs[0].Reason != "no Envoy image: the sidecar data plane cannot run here" {
		t.Errorf("discovery skipped specs: %+v", d.SkippedSpecs)
	}
	if !reflect.DeepEqual(areaByName(t, cr, "trust").Features, []v1alpha1.Feature{"primary-remote"}) {
		t.Errorf("trust features: %v", areaByName(t, cr, "trust").Features)
	}
	iso := areaByName(t, cr, "isolation")
	if len(iso.NotApplicableSpecs) != 2 || iso.NotApplicableSpecs[0].Reason != "bridged networking" || len(iso.SkippedSpecs) != 0 {
		t.Errorf("isolation: not applicable %+v skipped %+v", iso.NotApplicableSpecs, iso.SkippedSpecs)
	}

	// Environment, timings and reproduce.
	if cr.APIVersion != v1alpha1.APIVersion || cr.Kind != v1alpha1.Kind || cr.Date != "1970-01-01T00:16:40Z" || cr.MeshconformVersion != "v0.1.0" {
		t.Errorf("header: %s %s %s %s", cr.APIVersion, cr.Kind, cr.Date, cr.MeshconformVersion)
	}
	wantImpl := v1alpha1.Implementation{Name: "istio", Version: "1.31-dev", Installer: "istioctl", Hub: "localhost/istio",
		Tag: "offline", TrustDomain: "cluster.local", RootFingerprint: "ab:cd", Revision: "canary"}
	if cr.Implementation != wantImpl {
		t.Errorf("implementation %+v", cr.Implementation)
	}
	// Every istiod with its revision and version, and the injection of each cluster's workloads.
	canary := &v1alpha1.Injection{Label: "istio.io/rev=canary", Revision: "canary"}
	if cr.Topology.Name != "primary-remote" || cr.Topology.Networking != "bridged" || len(cr.Topology.Clusters) != 2 ||
		!reflect.DeepEqual(cr.Topology.Clusters[1], v1alpha1.Cluster{Name: "cluster2", Role: "remote", Network: "network1", Primary: "cluster1", Injection: canary}) ||
		!reflect.DeepEqual(cr.Topology.Clusters[0].Istiods, []v1alpha1.Istiod{{Revision: "canary", Deployment: "istiod-canary", Version: "1.31-dev", Tags: []string{"prod"}},
			{Revision: "default", Deployment: "istiod", Version: "1.30.2"}}) ||
		!reflect.DeepEqual(cr.Topology.Clusters[0].Injection, canary) {
		t.Errorf("topology %+v", cr.Topology)
	}
	if cr.DataPlane != "proxyless" || cr.ImageSource != "offline" || cr.ExposeIstiod != "loadbalancer" || len(cr.Notes) != 1 {
		t.Errorf("dataPlane %q imageSource %q exposeIstiod %q notes %v", cr.DataPlane, cr.ImageSource, cr.ExposeIstiod, cr.Notes)
	}
	wantT := []v1alpha1.Timing{{Phase: "clusters", Duration: "1m50s", Seconds: 110}, {Phase: "metallb", Duration: "15s", Seconds: 15},
		{Phase: "istio", Duration: "20s", Seconds: 20}, {Phase: "test", Duration: "1m30s", Seconds: 90},
		{Phase: "total", Duration: "3m40s", Seconds: 220}}
	if !reflect.DeepEqual(cr.Timings, wantT) {
		t.Errorf("timings %+v", cr.Timings)
	}
	if cr.Reproduce.Command != "meshconform run --topology 'my topo.yaml'" || cr.Reproduce.Topology != "my topo.yaml" {
		t.Errorf("reproduce %+v", cr.Reproduce)
	}
}

func TestOverall(t *testing.T) {
	pass := func(area string) types.SpecReport { return it(area+" ok", types.SpecStatePassed, labels(area), "") }
	all := func(extra ...types.SpecReport) types.SpecReports {
		var s types.SpecReports
		for _, a := range v1alpha1.Areas {
			s = append(s, pass(string(a)))
		}
		return append(s, extra...)
	}
	beforeSuite := types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed,
		Failure: types.Failure{Message: "environment file missing", Location: loc, FailureNodeType: types.NodeTypeBeforeSuite}}
	flaky := pass("trust")
	flaky.NumAttempts = 2
	for _, c := range []struct {
		name  string
		specs types.SpecReports
		want  v1alpha1.Result
	}{
		{"every area passes", all(), v1alpha1.ResultSuccess},
		{"not applicable does not count against", all(it("x", types.SpecStateSkipped, labels("isolation"), "not applicable: bridged")), v1alpha1.ResultSuccess},
		{"a skip with a reason", all(it("x", types.SpecStateSkipped, labels("gateway"), "no Envoy")), v1alpha1.ResultPartial},
		{"an area with no specs", all()[1:], v1alpha1.ResultPartial},
		{"a failed BeforeSuite", all(beforeSuite), v1alpha1.ResultFailure},
		{"a panic", all(it("x", types.SpecStatePanicked, labels("trust"), "Test Panicked")), v1alpha1.ResultFailure},
		{"nothing passed", types.SpecReports{it("x", types.SpecStateSkipped, labels("trust"), "")}, v1alpha1.ResultSkipped},
		{"a flake still passes", append(all()[1:], flaky), v1alpha1.ResultSuccess},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := Build(types.Report{SpecReports: c.specs}, state(), Options{})
			if cr.Result != c.want {
				t.Errorf("overall %s, want %s (%s)", cr.Result, c.want, cr.Summary)
			}
			if cr.Failed() != (c.want == v1alpha1.ResultFailure) {
				t.Errorf("Failed() = %t for %s", cr.Failed(), cr.Result)
			}
		})
	}
	cr := Build(types.Report{SpecReports: all(beforeSuite)}, nil, Options{})
	if len(cr.SuiteFailures) != 1 || cr.SuiteFailures[0].Message != "environment file missing" ||
		cr.SuiteFailures[0].FailedIn != "BeforeSuite" {
		t.Errorf("suite failures %+v", cr.SuiteFailures)
	}
	if len(cr.Warnings) == 0 {
		t.Error("a report without environment state should warn")
	}
	cr = Build(types.Report{SpecReports: append(all()[1:], flaky)}, nil, Options{})
	if s := areaByName(t, cr, "trust").Statistics; s.Flaked != 1 || s.Passed != 1 {
		t.Errorf("flaked spec: %+v", s)
	}
	cr = Build(types.Report{SpecReports: all()}, nil, Options{Started: time.Now().Add(-time.Minute)})
	if len(cr.Timings) != 1 || cr.Timings[0].Phase != "test" || cr.Timings[0].Seconds < 59 {
		t.Errorf("test timing without the suite's run time: %+v", cr.Timings)
	}
	cr = Build(types.Report{SpecReports: all(), SpecialSuiteFailureReasons: []string{"Interrupted by User"}}, nil, Options{})
	if cr.Result != v1alpha1.ResultFailure {
		t.Errorf("interrupted run: %s", cr.Result)
	}
	long := it("x", types.SpecStateFailed, labels("trust"), strings.Repeat("é", maxMessage))
	cr = Build(types.Report{SpecReports: types.SpecReports{long}}, nil, Options{})
	if m := areaByName(t, cr, "trust").FailedSpecs[0].Message; len(m) > maxMessage+100 || !strings.Contains(m, "more bytes in junit.xml") {
		t.Errorf("long message not trimmed: %d bytes", len(m))
	}
}

// A Skip in an Ordered container's BeforeAll gives only the first spec the message; the others must inherit it.
func TestBeforeAllSkipIsInherited(t *testing.T) {
	ordered := func(text, msg string) types.SpecReport {
		s := it(text, types.SpecStateSkipped, labels("isolation"), "")
		s.IsInOrderedContainer = true
		s.Failure = types.Failure{Message: msg, Location: loc, FailureNodeType: types.NodeTypeBeforeAll}
		return s
	}
	first := ordered("pod IP", "not applicable: bridged networking")
	second := ordered("node IP", beforeAllSkipMessage)
	second.Failure.FailureNodeType = types.NodeTypeIt
	other := it("elsewhere", types.SpecStateSkipped, labels("gateway"), beforeAllSkipMessage)
	other.ContainerHierarchyLocations = []types.CodeLocation{{FileName: "/x/suites/gateway.go", LineNumber: 5}}
	cr := Build(types.Report{SpecReports: types.SpecReports{first, second, other}}, nil, Options{})
	iso := areaByName(t, cr, "isolation")
	if iso.Result != v1alpha1.ResultNotApplicable || iso.Statistics.NotApplicable != 2 {
		t.Errorf("isolation %s %+v %+v", iso.Result, iso.Statistics, iso.SkippedSpecs)
	}
	if gw := areaByName(t, cr, "gateway"); gw.Statistics.Skipped != 1 || gw.SkippedSpecs[0].Reason != beforeAllSkipMessage {
		t.Errorf("unrelated container must keep its own message: %+v", gw.SkippedSpecs)
	}
}

func lbReport(t *testing.T) types.Report {
	v1 := verdict(t, "cluster1", map[string]int{"cluster1": 1, "cluster2": 1}, map[string]int{"cluster1": 12, "cluster2": 9})
	v2 := verdict(t, "cluster2", map[string]int{"cluster1": 1, "cluster2": 1}, map[string]int{"cluster2": 21})
	return types.Report{SpecReports: types.SpecReports{
		it("lb from cluster1", types.SpecStatePassed, labels("loadbalancing"), "", entry("other", "x"), entry(v1alpha1.LBVerdictEntry, v1)),
		it("lb from cluster2", types.SpecStateFailed, labels("loadbalancing"), v2.Reason, entry(v1alpha1.LBVerdictEntry, &v2)),
	}}
}

func checkLB(t *testing.T, cr *v1alpha1.ConformanceReport) {
	t.Helper()
	if len(cr.LoadBalancing) != 2 {
		t.Fatalf("lb results %+v (warnings %v)", cr.LoadBalancing, cr.Warnings)
	}
	a, b := cr.LoadBalancing[0], cr.LoadBalancing[1]
	if a.Spec != "conformance lb from cluster1" || a.Source != "cluster1" || !a.Pass || a.Tally["cluster1"] != 12 ||
		a.Tally["cluster2"] != 9 || a.Plan.Requests != 21 || a.WarmupCalls != 3 || a.Plan.Shares["cluster2"] != 0.5 {
		t.Errorf("cluster1 verdict %+v", a)
	}
	if b.Source != "cluster2" || b.Pass || !reflect.DeepEqual(b.Missing, []string{"cluster1"}) || b.Tally["cluster2"] != 21 {
		t.Errorf("cluster2 verdict %+v", b)
	}
}

func TestLBVerdictsInProcess(t *testing.T) {
	checkLB(t, Build(lbReport(t), nil, Options{}))
}

// After Ginkgo's JSON round trip (parallel processes, a report read from disk) the value is a map; AsJSON is exact.
func TestLBVerdictsAfterJSONRoundTrip(t *testing.T) {
	b, err := json.Marshal(lbReport(t))
	if err != nil {
		t.Fatal(err)
	}
	var r types.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.SpecReports[0].ReportEntries[1].Value.AsJSON == "" {
		t.Fatal("test setup: AsJSON should be set after a round trip")
	}
	checkLB(t, Build(r, nil, Options{}))
}

func TestUndecodableVerdictWarns(t *testing.T) {
	r := types.Report{SpecReports: types.SpecReports{
		it("lb", types.SpecStatePassed, labels("loadbalancing"), "", entry(v1alpha1.LBVerdictEntry, map[string]int{"x": 1})),
	}}
	cr := Build(r, nil, Options{})
	if len(cr.LoadBalancing) != 0 || !strings.Contains(strings.Join(cr.Warnings, "\n"), "lb-verdict") {
		t.Errorf("lb %+v warnings %v", cr.LoadBalancing, cr.Warnings)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	r := lbReport(t)
	r.SpecReports = append(r.SpecReports,
		it("skipped", types.SpecStateSkipped, labels("gateway"), "no Envoy image"),
		it("n/a", types.SpecStateSkipped, labels("isolation", "feature:isolated-networking"), "not applicable: bridged"))
	cr := Build(r, state(), Options{Command: []string{"meshconform", "test"}, Version: "dev", Started: time.Unix(5, 0)})
	path := filepath.Join(t.TempDir(), "out", YAMLFile)
	if err := WriteYAML(cr, path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: meshconform.io/v1alpha1", "kind: ConformanceReport", "result: failure",
		"notApplicable: 1", "source: cluster1", "falseAlarmBound:", "reason: no Envoy image"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("YAML lacks %q:\n%s", want, raw)
		}
	}
	back, err := ReadYAML(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cr) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", back, cr)
	}
	if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: Pod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadYAML(path); err == nil {
		t.Error("ReadYAML accepted a file that is no conformance report")
	}
}

var barRE = regexp.MustCompile(`<rect class="([^"]*)" data-cluster="([^"]*)" data-count="(\d+)"[^>]*width="(\d+)"`)

type htmlBar struct {
	class, cluster string
	count, width   int
}

func bars(page string) []htmlBar {
	var out []htmlBar
	for _, m := range barRE.FindAllStringSubmatch(page, -1) {
		c, _ := strconv.Atoi(m[3])
		w, _ := strconv.Atoi(m[4])
		out = append(out, htmlBar{m[1], m[2], c, w})
	}
	return out
}

func TestHTML(t *testing.T) {
	evil := `"><script>alert(1)</script>`
	ok := verdict(t, "cluster1", map[string]int{"cluster1": 1, "cluster2": 3}, map[string]int{"cluster1": 10, "cluster2": 30})
	local := verdict(t, evil, map[string]int{"cluster1": 1, evil: 1}, map[string]int{evil: 21})
	r := types.Report{SpecReports: types.SpecReports{
		it("lb", types.SpecStatePassed, labels("loadbalancing"), "", entry(v1alpha1.LBVerdictEntry, ok)),
		it("lb evil", types.SpecStateFailed, labels("loadbalancing"), "calls stayed in "+evil, entry(v1alpha1.LBVerdictEntry, local)),
		it("gw", types.SpecStateSkipped, labels("gateway"), "no Envoy image <b>here</b>"),
	}}
	st := state()
	st.Clusters[0].Name = evil
	cr := Build(r, st, Options{Command: []string{"meshconform", "run", "--topology", evil}})
	path := filepath.Join(t.TempDir(), HTMLFile)
	if err := WriteHTML(cr, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.Contains(page, "cluster2: test workloads injected by istio.io/rev=canary (revision canary)") ||
		!strings.Contains(page, "installer istioctl, revision canary") {
		t.Errorf("the page does not show the revision")
	}
	st.Clusters[0].Name = "cluster1"
	if err := WriteHTML(Build(r, st, Options{}), path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "cluster1: istiod-canary 1.31-dev (revision canary, tag prod), istiod 1.30.2 "+
		"(revision default); test workloads injected by istio.io/rev=canary (revision canary)") {
		t.Errorf("the page does not show every istiod with its revision and version")
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<b>here") {
		t.Errorf("page carries unescaped input:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(page, "no Envoy image &lt;b&gt;here&lt;/b&gt;") {
		t.Error("escaped names and reasons missing from the page")
	}
	for _, ext := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), ext) {
			t.Errorf("page is not self-contained: has %q", ext)
		}
	}

	got := bars(page)
	// Sources and destinations sort by name, and `"` sorts before "c".
	// The evil source's chart: evil 21, cluster1 0 (missing).
	// cluster1's chart: cluster1 10, cluster2 30; the longest bar is cluster2's 30 calls, the expected 30 too.
	want := []htmlBar{
		{"bar", `&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;`, 21, 360}, {"bar missing", "cluster1", 0, 0},
		{"bar", "cluster1", 10, 120}, {"bar", "cluster2", 30, 360},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bars\n got %+v\nwant %+v", got, want)
	}
	for _, s := range []string{"from cluster1", "planned, false-alarm bound " + fmt.Sprintf("%.1e", ok.Plan.FalseAlarmBound),
		"40 judged calls of " + strconv.Itoa(ok.Plan.Requests) + " planned", "(75%)", "3 warm-up calls not judged",
		"east-west gateway pods cannot run: no Envoy image", "<h2>Skipped (could not run here)</h2>"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// Each source gets its own heading, in source order.
	if i, j := strings.Index(page, "from &#34;&gt;"), strings.Index(page, "from cluster1"); i < 0 || j < 0 || i > j {
		t.Errorf("source headings missing or out of order (%d, %d)", i, j)
	}
}

func TestWriteGinkgoReportsAndWriteAll(t *testing.T) {
	r := lbReport(t)
	r.SuiteDescription = "meshconform conformance"
	r.StartTime, r.EndTime, r.RunTime = time.Unix(10, 0), time.Unix(70, 0), time.Minute
	dir := filepath.Join(t.TempDir(), "report")
	cr, err := WriteAll(r, state(), Options{Command: []string{"meshconform", "test"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{JUnitFile, GinkgoJSONFile, YAMLFile, HTMLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite>testcase"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatal(err)
	}
	if suites.Tests != 2 || suites.Failures != 1 || !strings.HasPrefix(suites.Cases[0].Name, "conformance lb from cluster1") {
		t.Errorf("junit: %+v", suites)
	}
	var back []types.Report
	b, _ = os.ReadFile(filepath.Join(dir, GinkgoJSONFile))
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 {
		t.Fatalf("ginkgo json: %v (%d reports)", err, len(back))
	}
	// The JSON report is itself enough to rebuild the conformance report (e.g. `meshconform report` after the fact).
	again := Build(back[0], state(), Options{Command: []string{"meshconform", "test"}})
	if again.Result != cr.Result || len(again.LoadBalancing) != 2 || again.LoadBalancing[1].Tally["cluster2"] != 21 {
		t.Errorf("rebuilt from JSON: %s %+v", again.Result, again.LoadBalancing)
	}
}

// Behind an east-west gateway a network is reached through one of its clusters: a cluster of a reached network with
// no call is no "missing" bar; the clusters of an unreached network are.
func TestHTMLMarksOnlyUnreachedGroupsMissing(t *testing.T) {
	topo, err := topology.Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	st := topo.NewState(t.TempDir(), "test")
	st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{
		"cluster1": {EastWestGateway: "172.30.1.130", GatewayReady: true},
		"cluster2": {EastWestGateway: "172.30.1.131", GatewayReady: true},
		"cluster3": {EastWestGateway: "172.30.2.130", GatewayReady: true},
	}}
	p, err := lb.NewGroupPlan(lb.ReachGroups(st, "cluster3", lb.ConnectionsReused),
		map[string]int{"cluster1": 1, "cluster2": 1, "cluster3": 1}, lb.MaxFalseAlarm)
	if err != nil {
		t.Fatal(err)
	}
	pinned := lb.Judge(p, "cluster3", map[string]int{"cluster1": 20, "cluster3": 15}, 0, 2)
	local := lb.Judge(p, "cluster3", map[string]int{"cluster3": 35}, 0, 2)
	if !pinned.Pass || local.Pass {
		t.Fatalf("verdicts: pinned %s / local %s", pinned.Reason, local.Reason)
	}
	for _, tc := range []struct {
		v    lb.Verdict
		want []htmlBar
	}{
		{pinned, []htmlBar{{"bar", "cluster1", 20, 360}, {"bar", "cluster2", 0, 0}, {"bar", "cluster3", 15, 270}}},
		{local, []htmlBar{{"bar missing", "cluster1", 0, 0}, {"bar missing", "cluster2", 0, 0}, {"bar", "cluster3", 35, 360}}},
	} {
		r := types.Report{SpecReports: types.SpecReports{
			it("lb", types.SpecStatePassed, labels("loadbalancing"), "", entry(v1alpha1.LBVerdictEntry, tc.v))}}
		path := filepath.Join(t.TempDir(), HTMLFile)
		if err := WriteHTML(Build(r, st, Options{}), path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := bars(string(b)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.v.Reason, got, tc.want)
		}
	}
}

// The engine the clusters ran on is in the report (a vendor's result on Docker 29 and on 20.10 must be told apart).
func TestReportNamesTheEngine(t *testing.T) {
	st := state()
	if cr := Build(types.Report{}, st, Options{}); cr.Engine != nil {
		t.Errorf("no engine recorded, report says %+v", cr.Engine)
	}
	st.Engine = &env.Engine{Version: "29.8.1", Host: "unix:///run/meshconform-docker29/docker.sock"}
	cr := Build(types.Report{}, st, Options{})
	if cr.Engine == nil || cr.Engine.Version != "29.8.1" || cr.Engine.Host != st.Engine.Host {
		t.Errorf("engine %+v, want %+v", cr.Engine, st.Engine)
	}
}
