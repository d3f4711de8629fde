//go:build !conformance

package suites

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/suites/checks"
)

var shortNameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

// Every spec is complete, named once, and lives in the file its short name says; every area has a spec.
func TestCatalogueEntries(t *testing.T) {
	names := map[string]bool{}
	texts := map[string]bool{}
	perArea := map[v1alpha1.Area]int{}
	for i, s := range Catalogue {
		where := fmt.Sprintf("Catalogue[%d] %q", i, s.ShortName)
		if !shortNameRE.MatchString(s.ShortName) {
			t.Errorf("%s: short name must be lower-case words joined by hyphens", where)
		}
		if names[s.ShortName] {
			t.Errorf("%s: short name used twice", where)
		}
		names[s.ShortName] = true
		if !s.Area.Known() {
			t.Errorf("%s: unknown area %q (one of %v)", where, s.Area, v1alpha1.Areas)
		}
		perArea[s.Area]++
		if inDisruptiveArea := slices.Contains(v1alpha1.DisruptiveAreas, s.Area); s.Disruptive != inDisruptiveArea {
			t.Errorf("%s: disruptive %v but area %s is disruptive %v: disruptive specs have their own areas, "+
				"which run last", where, s.Disruptive, s.Area, inDisruptiveArea)
		}
		if AreaTitles[s.Area] == "" {
			t.Errorf("%s: area %q has no container title", where, s.Area)
		}
		if strings.TrimSpace(s.Description) == "" {
			t.Errorf("%s: no description", where)
		}
		full := AreaTitles[s.Area] + " " + s.Description
		if texts[full] {
			t.Errorf("%s: spec name %q used twice: the reports could not tell the specs apart", where, full)
		}
		texts[full] = true
		for _, f := range s.Features {
			if !slices.Contains(v1alpha1.Features, f) {
				t.Errorf("%s: unknown feature %q", where, f)
			}
		}
		for _, n := range s.Needs {
			if !slices.Contains(v1alpha1.Needs, n) {
				t.Errorf("%s: unknown need %q", where, n)
			}
		}
		if s.Run == nil {
			t.Errorf("%s: no body", where)
			continue
		}
		if filepath.Base(s.location.FileName) != "catalogue.go" {
			t.Errorf("%s: listed without entry(): location %s", where, s.location)
		}
		file, _ := runtime.FuncForPC(reflect.ValueOf(s.Run).Pointer()).FileLine(reflect.ValueOf(s.Run).Pointer())
		if want := strings.ReplaceAll(s.ShortName, "-", "_") + ".go"; filepath.Base(file) != want {
			t.Errorf("%s: body in %s, want its own file %s", where, filepath.Base(file), want)
		}
	}
	disruptiveSeen := false
	for _, a := range v1alpha1.Areas {
		if perArea[a] == 0 {
			t.Errorf("area %s has no spec", a)
		}
		d := slices.Contains(v1alpha1.DisruptiveAreas, a)
		if disruptiveSeen && !d {
			t.Errorf("area %s is listed after a disruptive area: disruptive areas must run last", a)
		}
		disruptiveSeen = disruptiveSeen || d
	}
	if len(Catalogue) < 12 {
		t.Errorf("only %d specs in the catalogue", len(Catalogue))
	}
}

func TestSpecLabels(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want []string
	}{
		{trustSharedRoot, []string{"spec:trust-shared-root"}},
		{gatewayPorts, []string{"feature:multi-network", "needs:envoy", "spec:gateway-ports"}},
		{isolationNodes, []string{"feature:multi-network", "feature:isolated-networking", "spec:isolation-nodes"}},
		{docFidelityHelloworld, []string{"dataplane:sidecar", "needs:envoy", "spec:doc-fidelity-helloworld"}},
		{Spec{ShortName: "trust-break-root", Disruptive: true}, []string{"disruptive", "spec:trust-break-root"}},
	} {
		if got := tc.spec.Labels(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: labels %q, want %q", tc.spec.ShortName, got, tc.want)
		}
	}
}

func TestSkipMessages(t *testing.T) {
	for _, tc := range []struct {
		a    Applicability
		want string
	}{
		{Applicable(), ""},
		{NotApplicable("the mesh has one network"), "not applicable: the mesh has one network"},
		{CannotRunHere("no Envoy"), "cannot run here: no Envoy"},
	} {
		if got := tc.a.SkipMessage(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.a, got, tc.want)
		}
	}
}

// A spec's rule, skipped through its message, lands where the report promises: not applicable specs under
// notApplicableSpecs (not counted against the area), specs that cannot run here under skippedSpecs (area partial).
func TestSkipMessagesClassifiedByTheReport(t *testing.T) {
	spec := func(s Spec, state types.SpecState, msg string) types.SpecReport {
		r := types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{AreaTitles[s.Area]},
			ContainerHierarchyLabels: [][]string{{s.Area.Label()}}, LeafNodeText: s.Description,
			LeafNodeLabels: s.Labels(), State: state}
		r.Failure.Message = msg
		return r
	}
	r := types.Report{SpecReports: types.SpecReports{
		spec(isolationPods, types.SpecStateSkipped, NotApplicable("the mesh has one network").SkipMessage()),
		spec(isolationNodes, types.SpecStateSkipped, NotApplicable("bridged").SkipMessage()),
		spec(gatewayAddress, types.SpecStatePassed, ""),
		spec(gatewayPorts, types.SpecStateSkipped, CannotRunHere("no Envoy").SkipMessage()),
	}}
	cr := report.Build(r, nil, report.Options{})
	for _, a := range cr.Areas {
		switch a.Name {
		case v1alpha1.AreaIsolation:
			if a.Result != v1alpha1.ResultNotApplicable || len(a.NotApplicableSpecs) != 2 ||
				a.NotApplicableSpecs[0] != (v1alpha1.SkippedSpec{Name: "Network isolation " + isolationPods.Description, Reason: "the mesh has one network"}) {
				t.Errorf("isolation: %+v", a)
			}
		case v1alpha1.AreaGateway:
			if a.Result != v1alpha1.ResultPartial || len(a.SkippedSpecs) != 1 || a.SkippedSpecs[0].Reason != "no Envoy" {
				t.Errorf("gateway: %+v", a)
			}
			if !slices.Equal(a.Features, nil) {
				t.Errorf("gateway features %v: only specs that ran count", a.Features)
			}
		}
	}
}

// environment is what `up` records for a topology, enough for the applicability rules (no cluster is contacted).
type environment struct {
	topology   string
	networking topology.Networking // overrides the topology's
	dataPlane  env.DataPlane
	images     env.ImageSource // offline | upstream
	// imagesReason is why (default: "registry unreachable: ..." offline); kitImages: the mesh ran the kit's Istio
	// build (offline environments always do).
	imagesReason string
	kitImages    bool
	expose       env.IstiodExposure // istiod exposure: gateway (default) | loadbalancer
	// gatewaysCannotRun: the east-west gateway pods cannot run (no Envoy).
	gatewaysCannotRun bool
	clusters          int // keep only the first n clusters (0: all)
}

func (e environment) mesh(t *testing.T) *checks.Mesh {
	t.Helper()
	topo, err := topology.Builtin(e.topology)
	if err != nil {
		t.Fatal(err)
	}
	if e.clusters > 0 {
		topo.Spec.Clusters = topo.Spec.Clusters[:e.clusters]
	}
	if e.networking != "" {
		topo.Spec.Networking = e.networking
	}
	st := topo.NewState(t.TempDir(), "test")
	for i := range st.Clusters {
		st.Clusters[i].Provisioned = true // as `up` records them
	}
	st.Images.Source, st.Images.Reason = e.images, e.imagesReason
	if e.images == env.SourceOffline && e.imagesReason == "" {
		st.Images.Reason = "registry unreachable: https://registry.k8s.io/v2/ did not answer directly in 3 attempts"
	}
	st.Mesh = &env.Mesh{DataPlane: e.dataPlane, ExposeIstiod: e.expose, Clusters: map[string]env.MeshCluster{},
		Hub: "docker.io/istio", Tag: "1.31.0"}
	if e.kitImages || e.images == env.SourceOffline {
		st.Mesh.Hub, st.Mesh.Tag = images.IstioHub, images.IstioVersion
	}
	var gateways []string
	for i, c := range topo.Spec.Clusters {
		st.Cluster(c.Name).NodeIPs = []netip.Addr{netip.AddrFrom4([4]byte{172, 18, byte(i), 2})}
		mc := env.MeshCluster{}
		// `up` gives every cluster a gateway across networks, and a primary serving remotes one when istiod is
		// exposed through it.
		if topo.MultiNetwork() || (e.expose != env.ExposeLoadBalancer && len(topo.RemotesOf(c.Name)) > 0) {
			mc.EastWestGateway = fmt.Sprintf("172.18.%d.250", i)
			mc.GatewayReady = !e.gatewaysCannotRun
			gateways = append(gateways, c.Name)
		}
		st.Mesh.Clusters[c.Name] = mc
	}
	if e.gatewaysCannotRun {
		gatewaysCannotRun(st, gateways)
	}
	return &checks.Mesh{State: st, DataPlane: e.dataPlane}
}

// gatewaysCannotRun records, as `up` does, that these clusters' gateway pods cannot run.
func gatewaysCannotRun(st *env.State, names []string) {
	for _, n := range names {
		mc := st.Mesh.Clusters[n]
		mc.GatewayCannotRun = true
		st.Mesh.Clusters[n] = mc
	}
}

// Reasons the rules give, as the reports have always printed them.
const (
	scopingNoGateway  = "no caller reaches another cluster: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)"
	failoverNoGateway = "no caller reaches two clusters: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)"
	rotationNoGateway = "no primary's client reaches another cluster: the other networks are reachable only through east-west gateways, whose pods cannot run (no Envoy)"
	oneNetwork        = "the mesh has one network"
	noGatewayNeeded   = "the topology needs no east-west gateway (one network, istiod not exposed through one)"
	noGatewayClients  = "no cluster needs another cluster's east-west gateway"
	noRemotes         = "the topology has no remote clusters"
	nodesByDesign     = "nodes of other mesh networks are reachable by design unless networking is isolated"
	noSharedNetwork   = "no two clusters share a network"
	// Why an Envoy spec cannot run on the kit's images, and how to run it (on a machine that reached no registry).
	kitNoEnvoy = "no Envoy in the images this run used (meshconform.io/istio/proxyv2:" + images.IstioVersion +
		" is the image kit's pilot-agent-only build); to run it: meshconform run --data-plane sidecar --istio-version " +
		"1.31.0 (released images, with Envoy; needs a registry, and none answered here)"
	registryMissing = "; needs a registry, and none answered here)"
	noCaller        = "no cluster can call another: calls across networks need east-west gateways, whose pods cannot run: " + kitNoEnvoy
	lbNoGateway     = "every other cluster is on another network, reachable only through east-west gateways, whose pods cannot run: " + kitNoEnvoy
	gatewaysNoEnvoy = "the east-west gateway pods of cluster1, cluster2 cannot run: " + kitNoEnvoy
	istiodNoGateway = "istiod is exposed through the east-west gateway, whose pods cannot run: " + kitNoEnvoy +
		"; or expose istiod through its own load balancer: --expose-istiod loadbalancer"
	// The authorization specs' reasons.
	tdProxyless = "trust-domain validation (a client rejecting a server of a foreign trust domain) needs Envoy sidecars; " +
		"this run used the proxyless data plane and the image kit's proxyv2, which has no Envoy; to run it: meshconform " +
		"run --data-plane sidecar --istio-version 1.31.0 (released images, with Envoy; needs a registry, and none answered here)"
	onePrimary     = "one primary: every cluster's identities are issued by the same istiod, under one trust domain"
	guideProxyless = "the guide's procedure needs Envoy sidecars; this run used the proxyless data plane and the image " +
		"kit's proxyv2, which has no Envoy; to run it: meshconform run --data-plane sidecar --istio-version 1.31.0 " +
		"(released images, with Envoy; needs a registry, and none answered here)"
)

// Each case lists the specs that do not run and why; every other spec of the catalogue must run.
func TestApplicability(t *testing.T) {
	offline := environment{dataPlane: env.DataPlaneProxyless, images: "offline", gatewaysCannotRun: true}
	upstream := environment{dataPlane: env.DataPlaneSidecar, images: "upstream"}
	with := func(e environment, topo string, edit func(*environment)) environment {
		e.topology = topo
		if edit != nil {
			edit(&e)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		env  environment
		skip map[string]Applicability
	}{
		{"one network, proxyless: nothing cross-network applies", with(offline, "multi-primary", nil), map[string]Applicability{
			"discovery-cross-network-gateway": NotApplicable(oneNetwork),
			"gateway-address":                 NotApplicable(noGatewayNeeded),
			"gateway-ports":                   NotApplicable(noGatewayClients),
			"gateway-istiod-reachable":        NotApplicable(noRemotes),
			"isolation-pods":                  NotApplicable(oneNetwork),
			"isolation-nodes":                 NotApplicable(nodesByDesign),
			"doc-fidelity-helloworld":         CannotRunHere(guideProxyless),
			"authz-foreign-trust-domain":      CannotRunHere(tdProxyless),
		}},
		{"two networks, gateway pods cannot run here", with(offline, "multi-primary-multi-network", nil), map[string]Applicability{
			"failover-drained-cluster":         CannotRunHere(failoverNoGateway),
			"lifecycle-secret-rotation":        CannotRunHere(rotationNoGateway),
			"lifecycle-bad-secrets":            CannotRunHere(rotationNoGateway),
			"lifecycle-secret-removal":         CannotRunHere(rotationNoGateway),
			"scoping-cluster-local":            CannotRunHere(scopingNoGateway),
			"scoping-subset-cluster":           CannotRunHere(scopingNoGateway),
			"trust-mutual-tls":                 CannotRunHere(noCaller),
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-ports":                    CannotRunHere(gatewaysNoEnvoy),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
			"lb-spread":                        CannotRunHere(lbNoGateway),
			"doc-fidelity-helloworld":          CannotRunHere(guideProxyless),
			"authz-allow-principal":            CannotRunHere(noCaller),
			"authz-deny-principal":             CannotRunHere(noCaller),
			"authz-foreign-trust-domain":       CannotRunHere(tdProxyless),
		}},
		{"two networks, sidecars and gateways that run", with(upstream, "multi-primary-multi-network", nil), map[string]Applicability{
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
		}},
		{"two bridged networks: nodes reachable by design", with(upstream, "multi-primary-multi-network", func(e *environment) {
			e.networking = topology.NetworkingBridged
		}), map[string]Applicability{
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
			"isolation-nodes":                  NotApplicable(nodesByDesign),
		}},
		{"a remote on another network, istiod behind a gateway that cannot run", with(offline, "primary-remote-multi-network", nil), map[string]Applicability{
			"failover-drained-cluster":         CannotRunHere(failoverNoGateway),
			"lifecycle-secret-rotation":        CannotRunHere(rotationNoGateway),
			"lifecycle-bad-secrets":            CannotRunHere(rotationNoGateway),
			"lifecycle-secret-removal":         CannotRunHere(rotationNoGateway),
			"scoping-cluster-local":            CannotRunHere(scopingNoGateway),
			"scoping-subset-cluster":           CannotRunHere(scopingNoGateway),
			"trust-mutual-tls":                 CannotRunHere(noCaller),
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-ports":                    CannotRunHere(gatewaysNoEnvoy),
			"gateway-istiod-reachable":         CannotRunHere(istiodNoGateway),
			"lb-spread":                        CannotRunHere(lbNoGateway),
			"doc-fidelity-helloworld":          CannotRunHere(guideProxyless),
			"authz-allow-principal":            CannotRunHere(noCaller),
			"authz-deny-principal":             CannotRunHere(noCaller),
			"authz-foreign-trust-domain":       CannotRunHere(tdProxyless),
		}},
		{"a remote on another network, istiod behind its own load balancer", with(offline, "primary-remote-multi-network", func(e *environment) {
			e.expose = env.ExposeLoadBalancer
		}), map[string]Applicability{
			"failover-drained-cluster":         CannotRunHere(failoverNoGateway),
			"lifecycle-secret-rotation":        CannotRunHere(rotationNoGateway),
			"lifecycle-bad-secrets":            CannotRunHere(rotationNoGateway),
			"lifecycle-secret-removal":         CannotRunHere(rotationNoGateway),
			"scoping-cluster-local":            CannotRunHere(scopingNoGateway),
			"scoping-subset-cluster":           CannotRunHere(scopingNoGateway),
			"trust-mutual-tls":                 CannotRunHere(noCaller),
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-ports":                    CannotRunHere(gatewaysNoEnvoy),
			"lb-spread":                        CannotRunHere(lbNoGateway),
			"doc-fidelity-helloworld":          CannotRunHere(guideProxyless),
			"authz-allow-principal":            CannotRunHere(noCaller),
			"authz-deny-principal":             CannotRunHere(noCaller),
			"authz-foreign-trust-domain":       CannotRunHere(tdProxyless),
		}},
		{"a remote on one network reaching istiod through a running gateway", with(upstream, "primary-remote", nil), map[string]Applicability{
			"discovery-cross-network-gateway": NotApplicable(oneNetwork),
			"isolation-pods":                  NotApplicable(oneNetwork),
			"isolation-nodes":                 NotApplicable(nodesByDesign),
			"authz-foreign-trust-domain":      NotApplicable(onePrimary),
		}},
		{"the guide's images are not reachable offline", with(upstream, "multi-primary", func(e *environment) {
			e.images = "offline"
		}), map[string]Applicability{
			"discovery-cross-network-gateway": NotApplicable(oneNetwork),
			"gateway-address":                 NotApplicable(noGatewayNeeded),
			"gateway-ports":                   NotApplicable(noGatewayClients),
			"gateway-istiod-reachable":        NotApplicable(noRemotes),
			"isolation-pods":                  NotApplicable(oneNetwork),
			"isolation-nodes":                 NotApplicable(nodesByDesign),
			"doc-fidelity-helloworld": CannotRunHere("the guide's images (" + checks.HelloImages["v1"] + ", " +
				checks.HelloImages["sleep"] + ") cannot be pulled: no registry answered here (registry unreachable: " +
				"https://registry.k8s.io/v2/ did not answer directly in 3 attempts); run it where one does"),
		}},
		// A machine with a registry, on the default data plane and the kit's Istio build: the Envoy specs say the
		// images had no Envoy and the command that runs them, not that this machine cannot.
		{"a registry, proxyless on the kit's images, two networks", with(offline, "multi-primary-multi-network", func(e *environment) {
			e.images, e.imagesReason, e.kitImages = env.SourceUpstream, "https://registry.k8s.io/v2/ answered HTTP 200", true
		}), map[string]Applicability{
			"trust-mutual-tls":                 CannotRunHere(strings.TrimSuffix(noCaller, registryMissing) + ")"),
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-ports":                    CannotRunHere(strings.TrimSuffix(gatewaysNoEnvoy, registryMissing) + ")"),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
			"lb-spread":                        CannotRunHere(strings.TrimSuffix(lbNoGateway, registryMissing) + ")"),
			"doc-fidelity-helloworld":          CannotRunHere(strings.TrimSuffix(guideProxyless, registryMissing) + ")"),
			"failover-drained-cluster":         CannotRunHere(failoverNoGateway),
			"lifecycle-secret-rotation":        CannotRunHere(rotationNoGateway),
			"lifecycle-bad-secrets":            CannotRunHere(rotationNoGateway),
			"lifecycle-secret-removal":         CannotRunHere(rotationNoGateway),
			"scoping-cluster-local":            CannotRunHere(scopingNoGateway),
			"scoping-subset-cluster":           CannotRunHere(scopingNoGateway),
			"authz-allow-principal":            CannotRunHere(strings.TrimSuffix(noCaller, registryMissing) + ")"),
			"authz-deny-principal":             CannotRunHere(strings.TrimSuffix(noCaller, registryMissing) + ")"),
			"authz-foreign-trust-domain":       CannotRunHere(strings.TrimSuffix(tdProxyless, registryMissing) + ")"),
		}},
		{"a registry, proxyless on a released Istio: the gateways run, the guide needs sidecars", with(upstream, "multi-primary-multi-network", func(e *environment) {
			e.dataPlane = env.DataPlaneProxyless
		}), map[string]Applicability{
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
			"doc-fidelity-helloworld": CannotRunHere("the guide's procedure needs Envoy sidecars; this run used the proxyless " +
				"data plane; to run it: meshconform run --data-plane sidecar --istio-version 1.31.0 (released images, with Envoy)"),
			"authz-foreign-trust-domain": CannotRunHere("trust-domain validation (a client rejecting a server of a foreign trust domain) needs Envoy sidecars; this run used the proxyless data plane; to run it: meshconform run --data-plane sidecar --istio-version 1.31.0 (released images, with Envoy)"),
		}},
		{"--offline: the reason says so", with(offline, "multi-primary", func(e *environment) { e.imagesReason = "--offline" }), map[string]Applicability{
			"discovery-cross-network-gateway": NotApplicable(oneNetwork),
			"gateway-address":                 NotApplicable(noGatewayNeeded),
			"gateway-ports":                   NotApplicable(noGatewayClients),
			"gateway-istiod-reachable":        NotApplicable(noRemotes),
			"isolation-pods":                  NotApplicable(oneNetwork),
			"isolation-nodes":                 NotApplicable(nodesByDesign),
			"doc-fidelity-helloworld": CannotRunHere(strings.TrimSuffix(guideProxyless, registryMissing) +
				"; needs a registry, and this run used --offline)"),
			"authz-foreign-trust-domain": CannotRunHere(strings.TrimSuffix(tdProxyless, registryMissing) + "; needs a registry, and this run used --offline)"),
		}},
		{"one cluster", with(upstream, "multi-primary", func(e *environment) { e.clusters = 1 }), map[string]Applicability{
			"failover-drained-cluster":         NotApplicable("the service runs in one cluster"),
			"lifecycle-secret-rotation":        NotApplicable("no primary reads another cluster through a remote secret"),
			"lifecycle-bad-secrets":            NotApplicable("no primary reads another cluster through a remote secret"),
			"lifecycle-secret-removal":         NotApplicable("no primary reads another cluster through a remote secret"),
			"scoping-cluster-local":            NotApplicable("the service runs in one cluster"),
			"scoping-subset-cluster":           NotApplicable("the service runs in one cluster"),
			"trust-mutual-tls":                 CannotRunHere("no cluster can call another: the mesh has one cluster"),
			"discovery-same-network-endpoints": NotApplicable(noSharedNetwork),
			"discovery-cross-network-gateway":  NotApplicable(oneNetwork),
			"gateway-address":                  NotApplicable(noGatewayNeeded),
			"gateway-ports":                    NotApplicable(noGatewayClients),
			"gateway-istiod-reachable":         NotApplicable(noRemotes),
			"lb-spread":                        NotApplicable("the service runs in one cluster"),
			"isolation-pods":                   NotApplicable(oneNetwork),
			"isolation-nodes":                  NotApplicable(nodesByDesign),
			"doc-fidelity-helloworld":          NotApplicable("the guide's procedure needs two clusters"),
			"authz-allow-principal":            CannotRunHere("no cluster can call another: the mesh has one cluster"),
			"authz-deny-principal":             CannotRunHere("no cluster can call another: the mesh has one cluster"),
			"authz-foreign-trust-domain":       NotApplicable(onePrimary),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.env.mesh(t)
			for name := range tc.skip {
				if !slices.ContainsFunc(Catalogue, func(s Spec) bool { return s.ShortName == name }) {
					t.Errorf("no spec %q in the catalogue", name)
				}
			}
			for _, s := range Catalogue {
				want, ok := tc.skip[s.ShortName]
				if !ok {
					want = Applicable()
				}
				if got := s.applies(m); got != want {
					t.Errorf("%s: %+v, want %+v", s.ShortName, got, want)
				}
			}
		})
	}
}

// lb-spread judges every source with at least two reach groups: behind gateways a network counts once, and a
// network whose gateways cannot run is no group.
func TestLBSourcesBehindGateways(t *testing.T) {
	for _, tc := range []struct {
		env  environment
		want string
	}{
		{environment{topology: "mix-3-cluster", dataPlane: env.DataPlaneSidecar, images: "upstream"}, "cluster1,cluster2,cluster3"},
		{environment{topology: "mix-3-cluster", dataPlane: env.DataPlaneProxyless, images: "offline", gatewaysCannotRun: true}, "cluster1,cluster2"},
		{environment{topology: "multi-primary-multi-network", dataPlane: env.DataPlaneProxyless, images: "offline", gatewaysCannotRun: true}, ""},
	} {
		m := tc.env.mesh(t)
		if got := strings.Join(lbSources(m), ","); got != tc.want {
			t.Errorf("%s (gateways cannot run: %v): sources %q, want %q", tc.env.topology, tc.env.gatewaysCannotRun, got, tc.want)
		}
	}
}

// Disruptive specs run on environments meshconform created, not on brought clusters unless asked, never when
// turned off; the reason names the brought clusters and the flag.
func TestDisruptionAllowed(t *testing.T) {
	created := environment{topology: "multi-primary", dataPlane: env.DataPlaneProxyless, images: "offline"}.mesh(t)
	brought := environment{topology: "multi-primary", dataPlane: env.DataPlaneProxyless, images: "offline"}.mesh(t)
	brought.State.Clusters[1].Provisioned = false // cluster2 is the user's
	cases := []struct {
		d      Disruption
		m      *checks.Mesh
		runs   bool
		reason string
	}{
		{DisruptionAuto, created, true, ""},
		{DisruptionAuto, brought, false, "cluster2 is brought (your mesh), so it runs only with --disruptive"},
		{DisruptionOn, brought, true, ""},
		{DisruptionOff, created, false, "--disruptive=false"},
	}
	for _, c := range cases {
		a := disruptionAllowed(c.d, c.m)
		if (a.Decision == Runs) != c.runs || !strings.Contains(a.Reason, c.reason) {
			t.Errorf("disruption %q: %v %q, want runs=%v with %q", c.d, a.Decision, a.Reason, c.runs, c.reason)
		}
	}
}
