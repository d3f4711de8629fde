package render

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
	"sigs.k8s.io/yaml"
)

// renderAllHelm renders every helm values file Install writes for a topology, keyed by file name.
func renderAllHelm(t *testing.T, top *topology.Topology) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	add := func(prefix string, op *IstioOperator) {
		rels, err := HelmReleases(op)
		if err != nil {
			t.Fatalf("%s/%s: %v", top.Metadata.Name, prefix, err)
		}
		for _, r := range rels {
			b, err := r.ValuesYAML()
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(HelmValuesFile(prefix+".yaml", r))] = b
		}
	}
	for _, c := range top.Spec.Clusters {
		in := RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag}
		if c.IsRemote() {
			in.RemotePilotAddress = testRemotePilot
		}
		op, err := ControlPlaneOperator(in)
		if err != nil {
			t.Fatal(err)
		}
		add(c.Name, op)
		for _, mode := range []env.IstiodExposure{env.ExposeLoadBalancer, env.ExposeGateway} {
			if NeedsEastWestGateway(top, c.Name, mode) {
				add(c.Name+"-eastwest", EastWestOperator(c.Network, testHub, testTag, ""))
			}
		}
	}
	return out
}

func TestHelmValuesMatchGoldenFiles(t *testing.T) {
	for _, name := range builtinNames(t) {
		t.Run(name, func(t *testing.T) {
			matchGoldenDir(t, filepath.Join("testdata", "helm", name), renderAllHelm(t, mustBuiltin(t, name)))
		})
	}
}

// releaseValues returns the values of the named release, read back from YAML (the wire format).
func releaseValues(t *testing.T, rels []HelmRelease, name string) map[string]any {
	t.Helper()
	for _, r := range rels {
		if r.Name == name {
			b, err := r.ValuesYAML()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := yaml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no release %s in %v", name, rels)
	return nil
}

func TestHelmPrimaryValues(t *testing.T) {
	for _, name := range builtinNames(t) {
		top := mustBuiltin(t, name)
		for _, c := range top.Primaries() {
			op, err := ControlPlaneOperator(RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag})
			if err != nil {
				t.Fatal(err)
			}
			rels, err := HelmReleases(op)
			if err != nil {
				t.Fatal(err)
			}
			if len(rels) != 2 || rels[0].Chart != ChartBase || rels[1].Chart != ChartIstiod || !rels[0].Wait || !rels[1].Wait {
				t.Fatalf("%s/%s: releases %+v, want base then istiod, both waited for", name, c.Name, rels)
			}
			if base := releaseValues(t, rels, HelmReleaseBase); len(base) != 0 {
				t.Errorf("%s/%s: base values %v, want none on a primary", name, c.Name, base)
			}
			m := releaseValues(t, rels, HelmReleaseIstiod)
			checks := map[string][2]any{
				"global.hub":                      {path(m, "global", "hub"), testHub},
				"global.tag":                      {path(m, "global", "tag"), testTag},
				"global.meshID":                   {path(m, "global", "meshID"), top.Spec.Mesh.ID},
				"global.multiCluster.clusterName": {path(m, "global", "multiCluster", "clusterName"), c.Name},
				"global.network":                  {path(m, "global", "network"), c.Network},
				"global.imagePullPolicy":          {path(m, "global", "imagePullPolicy"), "IfNotPresent"},
				"meshConfig.trustDomain":          {path(m, "meshConfig", "trustDomain"), top.Spec.Mesh.TrustDomain},
			}
			for what, v := range checks {
				if v[0] != v[1] {
					t.Errorf("%s/%s: %s = %v, want %v", name, c.Name, what, v[0], v[1])
				}
			}
			ext, _ := path(m, "global", "externalIstiod").(bool)
			if want := len(top.RemotesOf(c.Name)) > 0; ext != want {
				t.Errorf("%s/%s: global.externalIstiod = %v, want %v", name, c.Name, ext, want)
			}
			for _, k := range []string{"profile", "istiodRemote"} {
				if m[k] != nil {
					t.Errorf("%s/%s: a primary's istiod values carry %s=%v", name, c.Name, k, m[k])
				}
			}
		}
	}
}

func TestHelmRemoteValues(t *testing.T) {
	seen := 0
	for _, name := range builtinNames(t) {
		top := mustBuiltin(t, name)
		for _, c := range top.Remotes() {
			seen++
			op, err := ControlPlaneOperator(RenderInput{Topology: top, Cluster: c.Name, Hub: testHub, Tag: testTag,
				RemotePilotAddress: testRemotePilot})
			if err != nil {
				t.Fatal(err)
			}
			rels, err := HelmReleases(op)
			if err != nil {
				t.Fatal(err)
			}
			if base := releaseValues(t, rels, HelmReleaseBase); base["profile"] != "remote" {
				t.Errorf("%s/%s: base values %v, want profile remote (the guide installs both charts with it)", name, c.Name, base)
			}
			m := releaseValues(t, rels, HelmReleaseIstiod)
			checks := map[string][2]any{
				"profile":                         {m["profile"], "remote"},
				"global.remotePilotAddress":       {path(m, "global", "remotePilotAddress"), testRemotePilot},
				"istiodRemote.injectionPath":      {path(m, "istiodRemote", "injectionPath"), InjectionPath(c.Name, c.Network)},
				"global.meshID":                   {path(m, "global", "meshID"), top.Spec.Mesh.ID},
				"global.multiCluster.clusterName": {path(m, "global", "multiCluster", "clusterName"), c.Name},
				"global.network":                  {path(m, "global", "network"), c.Network},
				"global.hub":                      {path(m, "global", "hub"), testHub},
			}
			for what, v := range checks {
				if v[0] != v[1] {
					t.Errorf("%s/%s: %s = %v, want %v", name, c.Name, what, v[0], v[1])
				}
			}
			if path(m, "global", "externalIstiod") != nil {
				t.Errorf("%s/%s: externalIstiod belongs on the primary", name, c.Name)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no built-in topology has a remote")
	}
}

func TestHelmEastWestValues(t *testing.T) {
	rels, err := HelmReleases(EastWestOperator("network2", testHub, testTag, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 || rels[0].Chart != ChartGateway || rels[0].Name != EastWestGatewayName {
		t.Fatalf("releases %+v, want one gateway release %s", rels, EastWestGatewayName)
	}
	if rels[0].Wait {
		t.Error("the gateway release must not wait: its pods may never run without Envoy")
	}
	m := releaseValues(t, rels, EastWestGatewayName)
	want := map[string]any{
		"name":           EastWestGatewayName,
		"networkGateway": "network2",
		"labels":         map[string]any{"app": EastWestGatewayName, "istio": "eastwestgateway"},
		"service":        map[string]any{"type": "LoadBalancer"},
		// The injected proxy's pull policy (offline images are loaded, not pulled).
		"imagePullPolicy": "IfNotPresent",
		"podAnnotations":  map[string]any{"inject.istio.io/templates": "gateway"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("gateway values\n%v\nwant\n%v", m, want)
	}
}

func TestHelmReleasesRefuseWhatTheChartsCannotExpress(t *testing.T) {
	mismatch := EastWestOperator("network1", "", "", "")
	mismatch.Spec.Components.IngressGateways[0].K8s.Env[0].Value = "network9"
	custom := EastWestOperator("network1", "", "", "")
	custom.Spec.Components.IngressGateways[0].K8s.Service.Ports[1].Port = 16443
	unlabelled := EastWestOperator("network1", "", "", "")
	delete(unlabelled.Spec.Components.IngressGateways[0].Label, NetworkLabel)
	odd := &IstioOperator{Metadata: OperatorMeta{Name: "x"}, Spec: OperatorSpec{Profile: "demo"}}
	cases := []struct {
		name string
		op   *IstioOperator
		want string
	}{
		{"requested network view differs", mismatch, "ISTIO_META_REQUESTED_NETWORK_VIEW"},
		{"custom port", custom, "16443"},
		{"no network label", unlabelled, NetworkLabel},
		{"unknown profile", odd, `profile "demo"`},
		{"nil", nil, "no IstioOperator"},
	}
	for _, c := range cases {
		_, err := HelmReleases(c.op)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}
