package report

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
)

// testProfiles are profiles over the specs sp makes, shaped like the catalogue's.
var testProfiles = []ProfileDefinition{
	{Name: v1alpha1.ProfileMultiPrimary, Shape: Shape{Primaries: 2},
		Core: []FeatureDefinition{
			{Name: "RootOfTrust", Specs: []string{"trust-root"}},
			{Name: "Discovery", Specs: []string{"discovery-synced", "discovery-endpoints"}},
		},
		Extended: []FeatureDefinition{
			{Name: "Guide", Specs: []string{"guide-hello"}},
			{Name: "NodeIsolation", Specs: []string{"isolation-nodes"}},
		}},
	{Name: v1alpha1.ProfilePrimaryRemote, Shape: Shape{Remotes: 1},
		Core: []FeatureDefinition{
			{Name: "RootOfTrust", Specs: []string{"trust-root"}},
			{Name: "RemoteIstiod", Specs: []string{"gateway-istiod"}},
		}},
	{Name: v1alpha1.ProfileMultiNetwork, Shape: Shape{Networks: 2},
		Core: []FeatureDefinition{{Name: "Gateway", Specs: []string{"gateway-ports"}}}},
	// Reserved: no specs, never reported.
	{Name: v1alpha1.ProfileLifecycle},
}

// testSpecs are the specs of testProfiles with their areas.
var testSpecs = map[string]string{"trust-root": "trust", "discovery-synced": "discovery", "discovery-endpoints": "discovery",
	"guide-hello": "doc-fidelity", "isolation-nodes": "isolation", "gateway-istiod": "gateway", "gateway-ports": "gateway"}

func testDefinitions() *Definitions {
	d := &Definitions{Profiles: testProfiles}
	for short, area := range testSpecs {
		d.Specs = append(d.Specs, SpecDefinition{ShortName: short, Name: "conformance " + short, Area: v1alpha1.Area(area)})
	}
	return d
}

// sp is a catalogued spec as Ginkgo reports it: its area and spec:<short name> labels (full name "conformance <short>").
func sp(short string, state types.SpecState, msg string, entries ...types.ReportEntry) types.SpecReport {
	return it(short, state, labels(testSpecs[short], "spec:"+short), msg, entries...)
}

// topo is an environment of clusters given as role/network pairs ("primary/network1", "remote/network1").
func topo(t *testing.T, clusters ...string) *env.State {
	t.Helper()
	tp := &topology.Topology{Metadata: topology.Metadata{Name: "t"}, Spec: topology.Spec{Networking: topology.NetworkingIsolated}}
	primary := ""
	for i, c := range clusters {
		role, network, _ := strings.Cut(c, "/")
		cl := topology.Cluster{Name: "cluster" + string(rune('1'+i)), Role: topology.Role(role), Network: network}
		if cl.Role == topology.RolePrimary && primary == "" {
			primary = cl.Name
		}
		if cl.Role == topology.RoleRemote {
			cl.Primary = primary
		}
		tp.Spec.Clusters = append(tp.Spec.Clusters, cl)
	}
	st := tp.NewState(os.TempDir(), "test")
	st.Mesh = &env.Mesh{Installer: "istioctl", DataPlane: "proxyless"}
	return st
}

func profileByName(t *testing.T, cr *v1alpha1.ConformanceReport, name v1alpha1.Profile) v1alpha1.ProfileReport {
	t.Helper()
	for _, p := range cr.Profiles {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %s in %+v", name, cr.Profiles)
	return v1alpha1.ProfileReport{}
}

const (
	cannotRun = "cannot run here: no Envoy image"
	notApply  = "not applicable: networking is bridged"
)

// Each case runs the specs of testProfiles with some outcomes on two primaries and checks MultiPrimary's result.
func TestProfileResults(t *testing.T) {
	pass := types.SpecStatePassed
	all := func(over map[string]types.SpecReport) types.SpecReports {
		var out types.SpecReports
		for _, s := range []string{"trust-root", "discovery-synced", "discovery-endpoints", "guide-hello", "isolation-nodes", "gateway-istiod", "gateway-ports"} {
			if r, ok := over[s]; ok {
				if r.LeafNodeText != "" {
					out = append(out, r)
				}
				continue
			}
			out = append(out, sp(s, pass, ""))
		}
		return out
	}
	skipped := types.SpecStateSkipped
	for _, tc := range []struct {
		name               string
		over               map[string]types.SpecReport
		result             v1alpha1.Result
		core, extended     v1alpha1.Result
		coreStats, extStat v1alpha1.Statistics
		check              func(t *testing.T, p v1alpha1.ProfileReport)
	}{
		{name: "every spec passes: success", result: v1alpha1.ResultSuccess,
			core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 3}, extStat: v1alpha1.Statistics{Passed: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				if !reflect.DeepEqual(p.Core.Specs, []string{"trust-root", "discovery-synced", "discovery-endpoints"}) ||
					!reflect.DeepEqual(p.Extended.Specs, []string{"guide-hello", "isolation-nodes"}) {
					t.Errorf("specs: core %v extended %v", p.Core.Specs, p.Extended.Specs)
				}
				if !reflect.DeepEqual(p.Core.SupportedFeatures, []v1alpha1.ProfileFeature{"RootOfTrust", "Discovery"}) ||
					p.Core.UnsupportedFeatures != nil || p.Shape != "at least 2 primary clusters" {
					t.Errorf("features %v / %v, shape %q", p.Core.SupportedFeatures, p.Core.UnsupportedFeatures, p.Shape)
				}
				if p.Summary != "core: 3/3 passed; extended: 2/2 passed" {
					t.Errorf("summary %q", p.Summary)
				}
			}},
		{name: "a core spec fails: failure",
			over:   map[string]types.SpecReport{"discovery-endpoints": sp("discovery-endpoints", types.SpecStateFailed, "no endpoints")},
			result: v1alpha1.ResultFailure, core: v1alpha1.ResultFailure, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 2, Failed: 1}, extStat: v1alpha1.Statistics{Passed: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				if !reflect.DeepEqual(p.Core.FailedSpecs, []string{"discovery-endpoints"}) {
					t.Errorf("failed specs %v", p.Core.FailedSpecs)
				}
			}},
		{name: "a core spec times out: failure",
			over:   map[string]types.SpecReport{"trust-root": sp("trust-root", types.SpecStateTimedout, "timed out")},
			result: v1alpha1.ResultFailure, core: v1alpha1.ResultFailure, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 2, Failed: 1}, extStat: v1alpha1.Statistics{Passed: 2}},
		{name: "an extended spec fails: partial, never failure",
			over:   map[string]types.SpecReport{"guide-hello": sp("guide-hello", types.SpecStateFailed, "v2 never answered")},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultFailure,
			coreStats: v1alpha1.Statistics{Passed: 3}, extStat: v1alpha1.Statistics{Passed: 1, Failed: 1}},
		{name: "a core spec cannot run here: partial, and its feature is not unsupported",
			over:   map[string]types.SpecReport{"trust-root": sp("trust-root", skipped, cannotRun)},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultPartial, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 2, Skipped: 1}, extStat: v1alpha1.Statistics{Passed: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				want := []v1alpha1.ProfileSkip{{Name: "trust-root", Cause: v1alpha1.SkipCannotRunHere, Reason: "no Envoy image"}}
				if !reflect.DeepEqual(p.Core.SkippedSpecs, want) || p.Core.UnsupportedSpecs != nil {
					t.Errorf("skipped %+v unsupported %+v, want skipped %+v", p.Core.SkippedSpecs, p.Core.UnsupportedSpecs, want)
				}
				if p.Core.UnsupportedFeatures != nil || len(p.Core.SupportedFeatures) != 2 {
					t.Errorf("a spec that cannot run here made its feature unsupported: %v / %v", p.Core.SupportedFeatures, p.Core.UnsupportedFeatures)
				}
				if !strings.Contains(p.Summary, "core: 2/3 passed, 1 could not run here") {
					t.Errorf("summary %q", p.Summary)
				}
			}},
		{name: "every core spec cannot run here, extended passes: partial",
			over: map[string]types.SpecReport{"trust-root": sp("trust-root", skipped, cannotRun),
				"discovery-synced": sp("discovery-synced", skipped, cannotRun), "discovery-endpoints": sp("discovery-endpoints", skipped, cannotRun)},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultSkipped, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Skipped: 3}, extStat: v1alpha1.Statistics{Passed: 2}},
		{name: "an extended feature does not apply: unsupported, still success",
			over:   map[string]types.SpecReport{"isolation-nodes": sp("isolation-nodes", skipped, notApply)},
			result: v1alpha1.ResultSuccess, core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 3}, extStat: v1alpha1.Statistics{Passed: 1, NotApplicable: 1},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				if !reflect.DeepEqual(p.Extended.UnsupportedFeatures, []v1alpha1.ProfileFeature{"NodeIsolation"}) ||
					!reflect.DeepEqual(p.Extended.SupportedFeatures, []v1alpha1.ProfileFeature{"Guide"}) {
					t.Errorf("extended features %v / unsupported %v", p.Extended.SupportedFeatures, p.Extended.UnsupportedFeatures)
				}
				want := []v1alpha1.ProfileSkip{{Name: "isolation-nodes", Cause: v1alpha1.SkipNotApplicable, Reason: "networking is bridged"}}
				if !reflect.DeepEqual(p.Extended.UnsupportedSpecs, want) || p.Extended.SkippedSpecs != nil {
					t.Errorf("unsupported %+v skipped %+v", p.Extended.UnsupportedSpecs, p.Extended.SkippedSpecs)
				}
				if !strings.Contains(p.Summary, "extended: 1/1 passed, unsupported: NodeIsolation") {
					t.Errorf("summary %q", p.Summary)
				}
			}},
		{name: "no extended feature applies: extended notApplicable, success",
			over: map[string]types.SpecReport{"isolation-nodes": sp("isolation-nodes", skipped, notApply),
				"guide-hello": sp("guide-hello", skipped, "not applicable: one cluster")},
			result: v1alpha1.ResultSuccess, core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultNotApplicable,
			coreStats: v1alpha1.Statistics{Passed: 3}, extStat: v1alpha1.Statistics{NotApplicable: 2}},
		{name: "an extended spec cannot run here: partial",
			over:   map[string]types.SpecReport{"guide-hello": sp("guide-hello", skipped, cannotRun)},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultPartial,
			coreStats: v1alpha1.Statistics{Passed: 3}, extStat: v1alpha1.Statistics{Passed: 1, Skipped: 1}},
		{name: "a core spec does not apply: partial (core is what every mesh of the shape must pass)",
			over:   map[string]types.SpecReport{"discovery-endpoints": sp("discovery-endpoints", skipped, "not applicable: no two clusters share a network")},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultPartial, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 2, NotApplicable: 1}, extStat: v1alpha1.Statistics{Passed: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				// Discovery keeps a spec that applies: supported.
				if p.Core.UnsupportedFeatures != nil || len(p.Core.UnsupportedSpecs) != 1 {
					t.Errorf("features %v unsupported specs %+v", p.Core.UnsupportedFeatures, p.Core.UnsupportedSpecs)
				}
				if !strings.Contains(p.Summary, "1 not applicable") {
					t.Errorf("summary %q", p.Summary)
				}
			}},
		{name: "label filter selected none of it: skipped, every spec notRun",
			over: map[string]types.SpecReport{"trust-root": sp("trust-root", skipped, ""), "discovery-synced": sp("discovery-synced", skipped, ""),
				"discovery-endpoints": sp("discovery-endpoints", types.SpecStatePending, ""), "guide-hello": sp("guide-hello", skipped, ""),
				"isolation-nodes": sp("isolation-nodes", skipped, "")},
			result: v1alpha1.ResultSkipped, core: v1alpha1.ResultSkipped, extended: v1alpha1.ResultSkipped,
			coreStats: v1alpha1.Statistics{Skipped: 3}, extStat: v1alpha1.Statistics{Skipped: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				for _, k := range append(p.Core.SkippedSpecs, p.Extended.SkippedSpecs...) {
					if k.Cause != v1alpha1.SkipNotRun {
						t.Errorf("%s: cause %s, want notRun", k.Name, k.Cause)
					}
				}
			}},
		{name: "a spec missing from the run: not run",
			over:   map[string]types.SpecReport{"discovery-synced": {}},
			result: v1alpha1.ResultPartial, core: v1alpha1.ResultPartial, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 2, Skipped: 1}, extStat: v1alpha1.Statistics{Passed: 2},
			check: func(t *testing.T, p v1alpha1.ProfileReport) {
				want := []v1alpha1.ProfileSkip{{Name: "discovery-synced", Cause: v1alpha1.SkipNotRun, Reason: "not in this run"}}
				if !reflect.DeepEqual(p.Core.SkippedSpecs, want) {
					t.Errorf("skipped %+v", p.Core.SkippedSpecs)
				}
			}},
		{name: "a pass after a retry counts as passed and flaked",
			over: map[string]types.SpecReport{"trust-root": func() types.SpecReport {
				s := sp("trust-root", pass, "")
				s.NumAttempts = 2
				return s
			}()},
			result: v1alpha1.ResultSuccess, core: v1alpha1.ResultSuccess, extended: v1alpha1.ResultSuccess,
			coreStats: v1alpha1.Statistics{Passed: 3, Flaked: 1}, extStat: v1alpha1.Statistics{Passed: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := types.Report{SpecReports: all(tc.over)}
			cr := Build(r, topo(t, "primary/network1", "primary/network1"), Options{Profiles: testProfiles})
			if len(cr.Profiles) != 1 {
				t.Fatalf("profiles %+v, want MultiPrimary only (two primaries, one network)", cr.Profiles)
			}
			p := cr.Profiles[0]
			if p.Name != v1alpha1.ProfileMultiPrimary || p.Result != tc.result || p.Core.Result != tc.core || p.Extended.Result != tc.extended {
				t.Errorf("%s: %s (core %s, extended %s), want %s (core %s, extended %s)", p.Name, p.Result, p.Core.Result,
					p.Extended.Result, tc.result, tc.core, tc.extended)
			}
			if p.Core.Statistics != tc.coreStats || p.Extended.Statistics != tc.extStat {
				t.Errorf("statistics core %+v extended %+v, want %+v %+v", p.Core.Statistics, p.Extended.Statistics, tc.coreStats, tc.extStat)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			// Whatever the outcomes, what Build writes passes the checks the validator applies.
			if problems := Check(cr, testDefinitions()); len(problems) > 0 {
				t.Errorf("Build's report fails Check: %v", problems)
			}
		})
	}
}

// The rules of v1alpha1.ProfileLevel and ProfileReport, case by case.
func TestProfileResultRules(t *testing.T) {
	S, P, F, K, N := v1alpha1.ResultSuccess, v1alpha1.ResultPartial, v1alpha1.ResultFailure, v1alpha1.ResultSkipped, v1alpha1.ResultNotApplicable
	for _, tc := range []struct {
		s              v1alpha1.Statistics
		core, extended v1alpha1.Result
	}{
		{v1alpha1.Statistics{Passed: 2}, S, S},
		{v1alpha1.Statistics{Passed: 2, Failed: 1, Skipped: 1}, F, F},
		{v1alpha1.Statistics{Passed: 1, Skipped: 1}, P, P},
		{v1alpha1.Statistics{Passed: 1, NotApplicable: 1}, P, S},
		{v1alpha1.Statistics{Skipped: 2}, K, K},
		{v1alpha1.Statistics{Skipped: 1, NotApplicable: 1}, K, K},
		{v1alpha1.Statistics{NotApplicable: 2}, K, N},
		{v1alpha1.Statistics{}, K, N},
	} {
		if got := levelResult(tc.s, true); got != tc.core {
			t.Errorf("core %+v: %s, want %s", tc.s, got, tc.core)
		}
		if got := levelResult(tc.s, false); got != tc.extended {
			t.Errorf("extended %+v: %s, want %s", tc.s, got, tc.extended)
		}
	}
	for _, tc := range []struct{ core, extended, want v1alpha1.Result }{
		{S, S, S}, {S, N, S}, {S, P, P}, {S, F, P}, {S, K, P},
		{P, S, P}, {P, N, P}, {P, F, P},
		{K, K, K}, {K, N, K}, {K, S, P}, {K, F, P},
		{F, S, F}, {F, N, F}, {F, F, F},
	} {
		if got := profileResult(tc.core, tc.extended); got != tc.want {
			t.Errorf("core %s extended %s: %s, want %s", tc.core, tc.extended, got, tc.want)
		}
	}
}

// Which profiles a topology gets follows from its shape; reserved profiles (no specs) never appear.
func TestProfilesFollowTheTopology(t *testing.T) {
	r := types.Report{SpecReports: types.SpecReports{sp("trust-root", types.SpecStatePassed, "")}}
	for _, tc := range []struct {
		clusters []string
		want     []v1alpha1.Profile
	}{
		{[]string{"primary/n1", "primary/n1"}, []v1alpha1.Profile{v1alpha1.ProfileMultiPrimary}},
		{[]string{"primary/n1", "remote/n1"}, []v1alpha1.Profile{v1alpha1.ProfilePrimaryRemote}},
		{[]string{"primary/n1", "primary/n2"}, []v1alpha1.Profile{v1alpha1.ProfileMultiPrimary, v1alpha1.ProfileMultiNetwork}},
		{[]string{"primary/n1", "remote/n2"}, []v1alpha1.Profile{v1alpha1.ProfilePrimaryRemote, v1alpha1.ProfileMultiNetwork}},
		{[]string{"primary/n1", "remote/n1", "primary/n2"}, []v1alpha1.Profile{v1alpha1.ProfileMultiPrimary, v1alpha1.ProfilePrimaryRemote, v1alpha1.ProfileMultiNetwork}},
		{[]string{"primary/n1"}, nil},
	} {
		cr := Build(r, topo(t, tc.clusters...), Options{Profiles: testProfiles})
		var got []v1alpha1.Profile
		for _, p := range cr.Profiles {
			got = append(got, p.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: profiles %v, want %v", tc.clusters, got, tc.want)
		}
	}
	if cr := Build(r, nil, Options{Profiles: testProfiles}); cr.Profiles != nil {
		t.Errorf("no environment, yet profiles %+v", cr.Profiles)
	}
	if cr := Build(r, topo(t, "primary/n1", "primary/n1"), Options{}); cr.Profiles != nil {
		t.Errorf("no definitions, yet profiles %+v", cr.Profiles)
	}
	for _, tc := range []struct {
		s    Shape
		want string
	}{
		{Shape{}, "any topology"},
		{Shape{Primaries: 2}, "at least 2 primary clusters"},
		{Shape{Remotes: 1}, "at least 1 remote cluster"},
		{Shape{Primaries: 1, Networks: 2}, "at least 1 primary cluster and 2 mesh networks"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

// A Skip in an Ordered container's BeforeAll reaches the profile with its real cause.
func TestProfileSkipCauseFromBeforeAll(t *testing.T) {
	first := sp("guide-hello", types.SpecStateSkipped, notApply)
	first.IsInOrderedContainer = true
	first.Failure.FailureNodeType = types.NodeTypeBeforeAll
	second := sp("isolation-nodes", types.SpecStateSkipped, beforeAllSkipMessage)
	second.IsInOrderedContainer = true
	r := types.Report{SpecReports: types.SpecReports{sp("trust-root", types.SpecStatePassed, ""),
		sp("discovery-synced", types.SpecStatePassed, ""), sp("discovery-endpoints", types.SpecStatePassed, ""), first, second}}
	p := profileByName(t, Build(r, topo(t, "primary/n1", "primary/n1"), Options{Profiles: testProfiles}), v1alpha1.ProfileMultiPrimary)
	if p.Extended.Result != v1alpha1.ResultNotApplicable || len(p.Extended.UnsupportedSpecs) != 2 ||
		p.Extended.UnsupportedSpecs[1].Reason != "networking is bridged" {
		t.Errorf("extended %+v", p.Extended)
	}
}

// The page shows the profiles at a glance, before anything else: profile, result, core x/y, extended x/y.
func TestHTMLProfiles(t *testing.T) {
	cr := goodReports(t)["mixed outcomes, three profiles"]
	path := filepath.Join(t.TempDir(), HTMLFile)
	if err := WriteHTML(cr, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	table := page[strings.Index(page, `<table class="profiles">`):]
	table = table[:strings.Index(table, "</table>")]
	rows := regexp.MustCompile(`(?s)<tr data-profile="([^"]+)"><td[^>]*>[^<]*</td><td><span class="result ([a-z]+)">[^<]*</span></td>\s*`+
		`<td class="num">(\d+/\d+) <span class="result [a-z]+">([a-zA-Z]+)</span></td>\s*`+
		`<td class="num">(\d+/\d+) <span class="result [a-z]+">([a-zA-Z]+)</span></td>\s*<td>([^<]*)</td>`).FindAllStringSubmatch(table, -1)
	var got [][]string
	for _, r := range rows {
		got = append(got, r[1:])
	}
	// MultiPrimary: core trust-root passed, discovery-synced failed, discovery-endpoints passed; extended guide-hello
	// could not run, isolation-nodes does not apply. PrimaryRemote: trust-root passed, gateway-istiod not run.
	want := [][]string{
		{"MultiPrimary", "failure", "2/3", "failure", "0/1", "skipped", "NodeIsolation"},
		{"PrimaryRemote", "partial", "1/2", "partial", "0/0", "notApplicable", ""},
		{"MultiNetwork", "success", "1/1", "success", "0/0", "notApplicable", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("profiles table rows\n got %q\nwant %q\n%s", got, want, table)
	}
	if strings.Index(page, `<table class="profiles">`) > strings.Index(page, "<th>Implementation</th>") {
		t.Error("the profiles table is not at the top of the page")
	}
	for _, s := range []string{"<h2>Profiles</h2>", "<code>guide-hello</code> (cannotRunHere): no Envoy image", "<code>isolation-nodes</code>: networking is bridged"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// No profiles, no table.
	if err := WriteHTML(goodReports(t)["no environment"], path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), `class="profiles"`) {
		t.Error("a report without profiles shows a profiles table")
	}
}
