package render

import (
	"strings"
	"testing"
)

func TestRevisionedNames(t *testing.T) {
	for rev, want := range map[string][4]string{
		"":        {"istiod", "istio-sidecar-injector", "istio", "istiod.istio-system.svc.cluster.local"},
		"default": {"istiod", "istio-sidecar-injector", "istio", "istiod.istio-system.svc.cluster.local"},
		"canary":  {"istiod-canary", "istio-sidecar-injector-canary", "istio-canary", "istiod-canary.istio-system.svc.cluster.local"},
	} {
		got := [4]string{IstiodName(rev), InjectorWebhookName(rev), MeshConfigName(rev), IstiodHost(rev)}
		if got != want {
			t.Errorf("%q: %v, want %v", rev, got, want)
		}
	}
}

func TestValidateRevision(t *testing.T) {
	for _, ok := range []string{"", "canary", "1-31-0", "default", strings.Repeat("r", 40)} {
		if err := ValidateRevision("--revision", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"1.31":                  "--revision \"1.31\"",
		"Canary":                "DNS",
		"-x":                    "DNS",
		strings.Repeat("r", 41): "at most 40",
	} {
		if err := ValidateRevision("--revision", bad); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want it to say %q", bad, err, says)
		}
	}
}

// A revisioned install names the revision everywhere istioctl and the charts read it: IstioOperator spec.revision
// (primary, remote, gateway), the istiod chart's revision in a release of its own, the base chart's default
// revision; the default revision renders exactly as before (the golden files).
func TestRevisionRendering(t *testing.T) {
	top := mustBuiltin(t, "primary-remote")
	for _, c := range top.Spec.Clusters {
		in := RenderInput{Topology: top, Cluster: c.Name, Revision: "canary", RemotePilotAddress: "10.0.0.9"}
		op, err := ControlPlaneOperator(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := path(decoded(t, op), "spec", "revision"); got != "canary" {
			t.Errorf("%s: spec.revision %v", c.Name, got)
		}
		rels, err := HelmReleases(op)
		if err != nil {
			t.Fatal(err)
		}
		if rels[0].Values["defaultRevision"] != "canary" || rels[1].Name != "istiod-canary" || rels[1].Values["revision"] != "canary" {
			t.Errorf("%s: helm releases %+v", c.Name, rels)
		}
		in.Revision = "default"
		op, _ = ControlPlaneOperator(in)
		if op.Spec.Revision != "" {
			t.Errorf("%s: the default revision is installed without one, got %q", c.Name, op.Spec.Revision)
		}
		if rels, _ := HelmReleases(op); rels[1].Name != HelmReleaseIstiod || rels[1].Values["revision"] != nil || len(rels[0].Values) != 0 && c.IsPrimary() {
			t.Errorf("%s: default revision's helm releases %+v", c.Name, rels)
		}
	}
	gw := EastWestOperator("network1", "", "", "canary")
	rels, err := HelmReleases(gw)
	if err != nil || gw.Spec.Revision != "canary" || rels[0].Values["revision"] != "canary" {
		t.Errorf("gateway: %+v %+v %v", gw.Spec, rels, err)
	}
	if EastWestOperator("network1", "", "", "").Spec.Revision != "" {
		t.Error("gateway of the default revision names one")
	}

	lb := IstiodLoadBalancer("test", "canary")
	if lb.Spec.Selector["app"] != "istiod" || lb.Spec.Selector[RevisionLabel] != "canary" {
		t.Errorf("istiod LB selector %v: must pick canary's pods only", lb.Spec.Selector)
	}
	if sel := IstiodLoadBalancer("test", "default").Spec.Selector; len(sel) != 1 {
		t.Errorf("default revision's LB selector %v", sel)
	}
	vs := IstiodVirtualService("test", "canary")
	for _, r := range vs.Spec.Tls {
		if h := r.Route[0].Destination.Host; h != "istiod-canary.istio-system.svc.cluster.local" {
			t.Errorf("VirtualService routes to %s", h)
		}
	}
}
