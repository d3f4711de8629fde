//go:build !conformance

package suites

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
)

var camelRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// The profiles are declared once, in report order, over catalogued specs, and every spec counts somewhere.
func TestProfileDefinitions(t *testing.T) {
	var names []v1alpha1.Profile
	counted := map[string]bool{}
	for _, p := range Profiles {
		names = append(names, p.Name)
		specs := p.Specs()
		if len(p.Core) == 0 {
			t.Errorf("%s: no core features", p.Name)
		}
		if p.Shape == (report.Shape{}) {
			t.Errorf("%s: no shape: it would apply to every topology", p.Name)
		}
		features := map[v1alpha1.ProfileFeature]bool{}
		for _, f := range append(slices.Clone(p.Core), p.Extended...) {
			if !camelRE.MatchString(string(f.Name)) {
				t.Errorf("%s: feature %q is not CamelCase", p.Name, f.Name)
			}
			if features[f.Name] {
				t.Errorf("%s: feature %s declared twice", p.Name, f.Name)
			}
			features[f.Name] = true
			if len(f.Specs) == 0 {
				t.Errorf("%s: feature %s has no spec", p.Name, f.Name)
			}
		}
		seen := map[string]bool{}
		for _, s := range specs {
			if !slices.ContainsFunc(Catalogue, func(c Spec) bool { return c.ShortName == s }) {
				t.Errorf("%s: spec %q is not in the catalogue", p.Name, s)
			}
			if seen[s] {
				t.Errorf("%s: spec %s counts twice", p.Name, s)
			}
			seen[s] = true
			counted[s] = true
		}
	}
	if !slices.Equal(names, v1alpha1.Profiles) {
		t.Errorf("profiles %v, want one per v1alpha1.Profiles, in its order %v", names, v1alpha1.Profiles)
	}
	for _, s := range Catalogue {
		if !counted[s.ShortName] {
			t.Errorf("spec %s counts in no profile", s.ShortName)
		}
	}
	d := Definitions()
	i := slices.IndexFunc(d.Specs, func(s report.SpecDefinition) bool { return s.ShortName == trustSharedRoot.ShortName })
	if len(d.Specs) != len(Catalogue) || i < 0 || d.Specs[i].Name != "Trust "+trustSharedRoot.Description || d.Specs[i].Area != v1alpha1.AreaTrust {
		t.Errorf("definitions: %+v", d.Specs)
	}
}

// environments are the built-in topologies as `up` records them, on this machine (offline: proxyless, gateway pods
// that cannot run) and with registry access (sidecars, gateways that run), with the variants the matrix runs.
func environments(t *testing.T) map[string]environment {
	t.Helper()
	out := map[string]environment{}
	for _, b := range topology.Builtins() {
		offline := environment{topology: b.Name, dataPlane: env.DataPlaneProxyless, images: "offline", gatewaysCannotRun: true}
		upstream := environment{topology: b.Name, dataPlane: env.DataPlaneSidecar, images: "upstream"}
		out[b.Name+"/offline"] = offline
		out[b.Name+"/upstream"] = upstream
		for _, n := range []topology.Networking{topology.NetworkingBridged, topology.NetworkingIsolated} {
			e := upstream
			e.networking = n
			out[b.Name+"/upstream/"+string(n)] = e
			e = offline
			e.networking, e.expose = n, env.ExposeLoadBalancer
			out[b.Name+"/offline/loadbalancer/"+string(n)] = e
		}
	}
	if len(out) < 5*6 {
		t.Fatalf("only %d environments", len(out))
	}
	return out
}

// Core is what every mesh of the shape must pass, so a core spec applies to every topology of its profile's shape
// (it may still be unable to run on a machine).
func TestProfileCoreSpecsApply(t *testing.T) {
	for name, e := range environments(t) {
		m := e.mesh(t)
		shape := report.ShapeOf(m.State)
		for _, p := range Profiles {
			if !p.Shape.Fits(shape) {
				continue
			}
			for _, f := range p.Core {
				for _, s := range f.Specs {
					spec := catalogued(t, s)
					if a := spec.applies(m); a.Decision == DoesNotApply {
						t.Errorf("%s: %s core spec %s (%s) does not apply: %s", name, p.Name, s, f.Name, a.Reason)
					}
				}
			}
		}
	}
}

func catalogued(t *testing.T, short string) Spec {
	t.Helper()
	i := slices.IndexFunc(Catalogue, func(s Spec) bool { return s.ShortName == short })
	if i < 0 {
		t.Fatalf("no spec %s", short)
	}
	return Catalogue[i]
}

// simulatedRun is the Ginkgo report of a run on e in which every spec that runs passes, except those in fail.
func simulatedRun(t *testing.T, e environment, fail ...string) types.Report {
	t.Helper()
	m := e.mesh(t)
	var r types.Report
	for _, s := range Catalogue {
		sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{AreaTitles[s.Area]},
			ContainerHierarchyLabels: [][]string{{s.Area.Label()}}, LeafNodeText: s.Description, LeafNodeLabels: s.Labels(),
			State: types.SpecStatePassed}
		a := s.applies(m)
		switch {
		case a.Decision != Runs:
			sr.State = types.SpecStateSkipped
			sr.Failure.Message = a.SkipMessage()
		case slices.Contains(fail, s.ShortName):
			sr.State = types.SpecStateFailed
			sr.Failure.Message = "broken on purpose"
		}
		r.SpecReports = append(r.SpecReports, sr)
	}
	return r
}

type profileWant struct {
	result, core, extended v1alpha1.Result
	// unsupported are the extended features the topology does not exercise; cannotRun the core specs skipped here.
	unsupported []v1alpha1.ProfileFeature
	cannotRun   []string
}

// The profiles of the built-in topologies, from their specs' applicability, with every spec that runs passing; and
// the reports validate against the catalogue.
func TestProfilesOfBuiltinTopologies(t *testing.T) {
	envs := environments(t)
	S, P, F, K, N := v1alpha1.ResultSuccess, v1alpha1.ResultPartial, v1alpha1.ResultFailure, v1alpha1.ResultSkipped, v1alpha1.ResultNotApplicable
	for _, tc := range []struct {
		env  string
		fail []string
		want map[v1alpha1.Profile]profileWant
	}{
		{"multi-primary/upstream", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: S, core: S, extended: S}}},
		// Offline, the install guide's check cannot run: the extended level is partial, so is the profile.
		{"multi-primary/offline", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: P, core: S, extended: K},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: P, core: S, extended: P}}},
		{"multi-primary/upstream", []string{"lb-spread"}, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: F, core: F, extended: S}}},
		{"multi-primary/upstream", []string{"doc-fidelity-helloworld"}, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: P, core: S, extended: F}}},
		{"multi-primary-multi-network/upstream", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: S, core: S, extended: S, unsupported: []v1alpha1.ProfileFeature{"SameNetworkEndpoints"}},
			v1alpha1.ProfileMultiNetwork: {result: S, core: S, extended: S}}},
		{"multi-primary-multi-network/upstream/bridged", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:       {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:    {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary: {result: S, core: S, extended: S, unsupported: []v1alpha1.ProfileFeature{"SameNetworkEndpoints"}},
			v1alpha1.ProfileMultiNetwork: {result: S, core: S, extended: N, unsupported: []v1alpha1.ProfileFeature{"NodeIsolation"}}}},
		// No Envoy: the calls across networks and the gateway's ports cannot be checked; the profiles cannot claim success.
		{"multi-primary-multi-network/offline", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:    {result: K, core: K, extended: K, cannotRun: []string{"authz-allow-principal", "authz-deny-principal"}},
			v1alpha1.ProfileLifecycle: {result: K, core: K, extended: K, cannotRun: []string{"failover-drained-cluster", "lifecycle-secret-rotation", "lifecycle-bad-secrets", "lifecycle-secret-removal"}},
			// Extended: the guide's check cannot run and same-network endpoints do not apply: nothing ran.
			v1alpha1.ProfileMultiPrimary: {result: P, core: P, extended: K, unsupported: []v1alpha1.ProfileFeature{"SameNetworkEndpoints"},
				cannotRun: []string{"trust-mutual-tls", "lb-spread"}},
			v1alpha1.ProfileMultiNetwork: {result: P, core: P, extended: S, cannotRun: []string{"gateway-ports"}}}},
		{"primary-remote/upstream", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:        {result: S, core: S, extended: N, unsupported: []v1alpha1.ProfileFeature{"TrustDomainValidation"}},
			v1alpha1.ProfileLifecycle:     {result: S, core: S, extended: S},
			v1alpha1.ProfilePrimaryRemote: {result: S, core: S, extended: S}}},
		{"primary-remote-multi-network/offline", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:    {result: K, core: K, extended: K, cannotRun: []string{"authz-allow-principal", "authz-deny-principal"}},
			v1alpha1.ProfileLifecycle: {result: K, core: K, extended: K, cannotRun: []string{"failover-drained-cluster", "lifecycle-secret-rotation", "lifecycle-bad-secrets", "lifecycle-secret-removal"}},
			v1alpha1.ProfilePrimaryRemote: {result: P, core: P, extended: K, unsupported: []v1alpha1.ProfileFeature{"SameNetworkEndpoints"},
				cannotRun: []string{"trust-mutual-tls", "gateway-istiod-reachable", "lb-spread"}},
			v1alpha1.ProfileMultiNetwork: {result: P, core: P, extended: S, cannotRun: []string{"gateway-ports"}}}},
		{"mix-3-cluster/upstream", nil, map[v1alpha1.Profile]profileWant{
			v1alpha1.ProfilePolicy:        {result: S, core: S, extended: S},
			v1alpha1.ProfileLifecycle:     {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiPrimary:  {result: S, core: S, extended: S},
			v1alpha1.ProfilePrimaryRemote: {result: S, core: S, extended: S},
			v1alpha1.ProfileMultiNetwork:  {result: S, core: S, extended: S}}},
	} {
		t.Run(tc.env+"/"+strings.Join(tc.fail, ","), func(t *testing.T) {
			e, ok := envs[tc.env]
			if !ok {
				t.Fatalf("no environment %s", tc.env)
			}
			st := e.mesh(t).State
			cr := report.Build(simulatedRun(t, e, tc.fail...), st, report.Options{Profiles: Profiles, Command: []string{"meshconform", "run"}})
			if len(cr.Profiles) != len(tc.want) {
				t.Errorf("profiles %d, want %d", len(cr.Profiles), len(tc.want))
			}
			for _, p := range cr.Profiles {
				w, ok := tc.want[p.Name]
				if !ok {
					t.Errorf("unexpected profile %s", p.Name)
					continue
				}
				if p.Result != w.result || p.Core.Result != w.core || p.Extended.Result != w.extended {
					t.Errorf("%s: %s (core %s, extended %s), want %s (core %s, extended %s); %s", p.Name, p.Result, p.Core.Result,
						p.Extended.Result, w.result, w.core, w.extended, p.Summary)
				}
				if !slices.Equal(p.Extended.UnsupportedFeatures, w.unsupported) || p.Core.UnsupportedFeatures != nil {
					t.Errorf("%s: unsupported features core %v extended %v, want extended %v", p.Name, p.Core.UnsupportedFeatures,
						p.Extended.UnsupportedFeatures, w.unsupported)
				}
				var cannot []string
				for _, k := range p.Core.SkippedSpecs {
					if k.Cause == v1alpha1.SkipCannotRunHere {
						cannot = append(cannot, k.Name)
					}
				}
				if !slices.Equal(cannot, w.cannotRun) {
					t.Errorf("%s: core specs that cannot run here %v, want %v", p.Name, cannot, w.cannotRun)
				}
			}
			path := filepath.Join(t.TempDir(), report.YAMLFile)
			if err := report.WriteYAML(cr, path); err != nil {
				t.Fatal(err)
			}
			d := Definitions()
			b := readFile(t, path)
			if _, problems := report.Validate(b, &d); len(problems) > 0 {
				t.Errorf("the report does not validate against the catalogue: %v", problems)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
