package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	testHub         = "meshconform.io/istio"
	testTag         = "1.31-alpha.test"
	testRemotePilot = "192.0.2.10"
)

// builtinNames lists the built-in topologies; the test fails if there are none (the golden files would prove nothing).
func builtinNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, b := range topology.Builtins() {
		names = append(names, b.Name)
	}
	if len(names) < 4 {
		t.Fatalf("only %d built-in topologies: %v", len(names), names)
	}
	return names
}

func mustBuiltin(t *testing.T, name string) *topology.Topology {
	t.Helper()
	top, err := topology.Builtin(name)
	if err != nil {
		t.Fatalf("Builtin(%s): %v", name, err)
	}
	return top
}

// renderAll renders every IstioOperator Install writes for a topology, keyed by the file name Install uses.
func renderAll(t *testing.T, top *topology.Topology) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, c := range top.Spec.Clusters {
		in := RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag}
		if c.IsRemote() {
			in.RemotePilotAddress = testRemotePilot
		}
		op, err := ControlPlaneOperator(in)
		if err != nil {
			t.Fatalf("%s/%s: %v", top.Metadata.Name, c.Name, err)
		}
		b, err := op.YAML()
		if err != nil {
			t.Fatal(err)
		}
		out[c.Name+".yaml"] = b
		for _, mode := range []env.IstiodExposure{env.ExposeLoadBalancer, env.ExposeGateway} {
			if NeedsEastWestGateway(top, c.Name, mode) {
				b, err := EastWestOperator(c.Network, testHub, testTag, "").YAML()
				if err != nil {
					t.Fatal(err)
				}
				out[c.Name+"-eastwest.yaml"] = b
			}
		}
	}
	return out
}

func TestRenderedOperatorsMatchGoldenFiles(t *testing.T) {
	for _, name := range builtinNames(t) {
		t.Run(name, func(t *testing.T) {
			matchGoldenDir(t, filepath.Join("testdata", "operators", name), renderAll(t, mustBuiltin(t, name)))
		})
	}
}

// matchGoldenDir compares rendered files with the golden directory dir, file for file, or rewrites it with -update.
func matchGoldenDir(t *testing.T, dir string, got map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, b := range got {
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run `go test ./framework/istio/render/ -run Golden -update` to create the golden files)", err)
	}
	if len(entries) != len(got) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("golden files %v, rendered %d files", names, len(got))
	}
	for f, b := range got {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", f, b, want)
		}
	}
}

// decoded is the rendered YAML read back generically, so assertions test the wire format, not our structs.
func decoded(t *testing.T, op *IstioOperator) map[string]any {
	t.Helper()
	b, err := op.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func TestPrimaryOperatorPerTopology(t *testing.T) {
	for _, name := range builtinNames(t) {
		top := mustBuiltin(t, name)
		for _, c := range top.Primaries() {
			op, err := ControlPlaneOperator(RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag})
			if err != nil {
				t.Fatal(err)
			}
			m := decoded(t, op)
			checks := map[string][2]any{
				"apiVersion":  {path(m, "apiVersion"), "install.istio.io/v1alpha1"},
				"kind":        {path(m, "kind"), "IstioOperator"},
				"name":        {path(m, "metadata", "name"), ControlPlaneOperatorName},
				"profile":     {path(m, "spec", "profile"), "minimal"},
				"hub":         {path(m, "spec", "hub"), testHub},
				"tag":         {path(m, "spec", "tag"), testTag},
				"trustDomain": {path(m, "spec", "meshConfig", "trustDomain"), top.Spec.Mesh.TrustDomain},
				"meshID":      {path(m, "spec", "values", "global", "meshID"), top.Spec.Mesh.ID},
				"clusterName": {path(m, "spec", "values", "global", "multiCluster", "clusterName"), c.Name},
				"network":     {path(m, "spec", "values", "global", "network"), c.Network},
				"istiod cpu":  {path(m, "spec", "values", "pilot", "resources", "requests", "cpu"), istiodCPURequest},
			}
			for what, v := range checks {
				if v[0] != v[1] {
					t.Errorf("%s/%s: %s = %v, want %v", name, c.Name, what, v[0], v[1])
				}
			}
			ext, _ := path(m, "spec", "values", "global", "externalIstiod").(bool)
			if want := len(top.RemotesOf(c.Name)) > 0; ext != want {
				t.Errorf("%s/%s: externalIstiod = %v, want %v (primary with remotes)", name, c.Name, ext, want)
			}
			if path(m, "spec", "values", "global", "remotePilotAddress") != nil {
				t.Errorf("%s/%s: a primary must not carry remotePilotAddress", name, c.Name)
			}
		}
	}
}

func TestRemoteOperatorPerTopology(t *testing.T) {
	seen := 0
	for _, name := range builtinNames(t) {
		top := mustBuiltin(t, name)
		for _, c := range top.Remotes() {
			seen++
			if _, err := ControlPlaneOperator(RenderInput{Topology: top, Cluster: c.Name}); err == nil {
				t.Errorf("%s/%s: a remote without its primary's address rendered", name, c.Name)
			}
			op, err := ControlPlaneOperator(RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag,
				RemotePilotAddress: testRemotePilot})
			if err != nil {
				t.Fatal(err)
			}
			m := decoded(t, op)
			checks := map[string][2]any{
				"profile":            {path(m, "spec", "profile"), "remote"},
				"remotePilotAddress": {path(m, "spec", "values", "global", "remotePilotAddress"), testRemotePilot},
				"injectionPath":      {path(m, "spec", "values", "istiodRemote", "injectionPath"), "/inject/cluster/" + c.Name + "/net/" + c.Network},
				"meshID":             {path(m, "spec", "values", "global", "meshID"), top.Spec.Mesh.ID},
				"clusterName":        {path(m, "spec", "values", "global", "multiCluster", "clusterName"), c.Name},
				"network":            {path(m, "spec", "values", "global", "network"), c.Network},
			}
			for what, v := range checks {
				if v[0] != v[1] {
					t.Errorf("%s/%s: %s = %v, want %v", name, c.Name, what, v[0], v[1])
				}
			}
			if path(m, "spec", "values", "global", "externalIstiod") != nil {
				t.Errorf("%s/%s: externalIstiod belongs on the primary", name, c.Name)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no built-in topology has a remote")
	}
}

func TestEastWestOperator(t *testing.T) {
	m := decoded(t, EastWestOperator("network2", testHub, testTag, ""))
	if got := path(m, "metadata", "name"); got == ControlPlaneOperatorName || got != EastWestOperatorName {
		t.Errorf("name = %v: must differ from the control plane's, or istioctl prunes one with the other", got)
	}
	if got := path(m, "spec", "profile"); got != "empty" {
		t.Errorf("profile = %v, want empty", got)
	}
	gws, _ := path(m, "spec", "components", "ingressGateways").([]any)
	if len(gws) != 1 {
		t.Fatalf("ingressGateways = %v", gws)
	}
	gw := gws[0].(map[string]any)
	if gw["name"] != "istio-eastwestgateway" || gw["enabled"] != true {
		t.Errorf("gateway = %v", gw)
	}
	wantLabels := map[string]any{"istio": "eastwestgateway", "app": "istio-eastwestgateway", "topology.istio.io/network": "network2"}
	if labels := gw["label"].(map[string]any); len(labels) != len(wantLabels) {
		t.Errorf("labels = %v, want %v", labels, wantLabels)
	} else {
		for k, v := range wantLabels {
			if labels[k] != v {
				t.Errorf("label %s = %v, want %v", k, labels[k], v)
			}
		}
	}
	env := path(gw, "k8s", "env").([]any)
	if e := env[0].(map[string]any); e["name"] != "ISTIO_META_REQUESTED_NETWORK_VIEW" || e["value"] != "network2" {
		t.Errorf("env = %v", env)
	}
	ports := map[string]float64{}
	for _, p := range path(gw, "k8s", "service", "ports").([]any) {
		pm := p.(map[string]any)
		ports[pm["name"].(string)] = pm["port"].(float64)
		if pm["targetPort"] != pm["port"] {
			t.Errorf("port %v: targetPort %v", pm["name"], pm["targetPort"])
		}
	}
	want := map[string]float64{"status-port": 15021, "tls": 15443, "tls-istiod": 15012, "tls-webhook": 15017}
	if len(ports) != len(want) {
		t.Errorf("ports = %v, want %v", ports, want)
	}
	for n, p := range want {
		if ports[n] != p {
			t.Errorf("port %s = %v, want %v", n, ports[n], p)
		}
	}
	if got := path(m, "spec", "values", "gateways", "istio-ingressgateway", "injectionTemplate"); got != "gateway" {
		t.Errorf("injectionTemplate = %v", got)
	}
	if got := path(m, "spec", "values", "global", "network"); got != "network2" {
		t.Errorf("global.network = %v", got)
	}
}

func TestNeedsEastWestGateway(t *testing.T) {
	cases := []struct {
		topology, cluster string
		expose            env.IstiodExposure
		want              bool
	}{
		{"multi-primary", "cluster1", env.ExposeLoadBalancer, false},
		{"multi-primary", "cluster1", env.ExposeGateway, false}, // no remotes: nothing to expose
		{"multi-primary-multi-network", "cluster2", env.ExposeLoadBalancer, true},
		{"primary-remote", "cluster1", env.ExposeLoadBalancer, false},
		{"primary-remote", "cluster1", env.ExposeGateway, true},
		{"primary-remote", "cluster2", env.ExposeGateway, false},
		{"primary-remote-multi-network", "cluster2", env.ExposeLoadBalancer, true},
		{"mix-3-cluster", "cluster2", env.ExposeLoadBalancer, true},
		{"mix-3-cluster", "nope", env.ExposeLoadBalancer, false},
	}
	for _, c := range cases {
		if got := NeedsEastWestGateway(mustBuiltin(t, c.topology), c.cluster, c.expose); got != c.want {
			t.Errorf("%s/%s (%s) = %v, want %v", c.topology, c.cluster, c.expose, got, c.want)
		}
	}
}

func TestOperatorYAMLHasNoSecrets(t *testing.T) {
	for _, name := range builtinNames(t) {
		for f, b := range renderAll(t, mustBuiltin(t, name)) {
			low := strings.ToLower(string(b))
			for _, w := range []string{"token", "key", "password", "-----begin"} {
				if strings.Contains(low, w) {
					t.Errorf("%s/%s mentions %q", name, f, w)
				}
			}
		}
	}
}
