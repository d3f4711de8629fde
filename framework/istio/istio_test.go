package istio

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/topology"
)

func TestOptionsDefaults(t *testing.T) {
	top, err := topology.Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	st := &env.State{Images: env.Images{Source: "offline"}}
	o, err := Options{Options: installer.Options{Istioctl: "/bin/true"}}.withDefaults(st, top)
	if err != nil {
		t.Fatal(err)
	}
	if o.Installer != env.InstallerIstioctl || o.DataPlane != env.DataPlaneProxyless || o.ExposeIstiod != env.ExposeLoadBalancer {
		t.Errorf("defaults %+v", o)
	}
	if o.Hub != images.IstioHub || o.Tag != images.IstioVersion {
		t.Errorf("offline images: hub/tag %s/%s, want the kit's", o.Hub, o.Tag)
	}
	o, err = Options{DataPlane: env.DataPlaneSidecar, Hub: "docker.io/istio", Tag: "1.31.0"}.withDefaults(&env.State{}, top)
	if err != nil {
		t.Fatal(err)
	}
	if o.ExposeIstiod != env.ExposeGateway || o.Hub != "docker.io/istio" {
		t.Errorf("sidecar defaults %+v", o)
	}
	if o.Revision != "" {
		t.Errorf("no revision named: %q", o.Revision)
	}
	for _, bad := range []Options{{DataPlane: "ambient"}, {ExposeIstiod: "nodeport"}, {Timeouts: Timeouts{RemoteSync: time.Hour}},
		{Revision: "Canary"}, {Revision: "1.31"}, {Revision: strings.Repeat("r", 41)}} {
		if _, err := bad.withDefaults(&env.State{}, top); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// The topology names the revision; the option (--revision) overrides it.
	revTop := *top
	revTop.Spec.Mesh.Revision = "canary"
	if o, err := (Options{}).withDefaults(&env.State{}, &revTop); err != nil || o.Revision != "canary" {
		t.Errorf("topology revision: %q, %v", o.Revision, err)
	}
	if o, err := (Options{Revision: "stable"}).withDefaults(&env.State{}, &revTop); err != nil || o.Revision != "stable" {
		t.Errorf("--revision over the topology's: %q, %v", o.Revision, err)
	}
}

func TestInstallRefusesAnEnvironmentWithoutClusters(t *testing.T) {
	top, err := topology.Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	st := top.NewState(t.TempDir(), "test")
	o := installer.Options{Installer: env.InstallerPreinstalled}
	inst, err := installer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	err = Install(context.Background(), top, st, Options{Options: o, Resolved: inst})
	if err == nil || !strings.Contains(err.Error(), "cluster1") || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("err = %v", err)
	}
}

func TestGatewayPodsThatCannotRunBecomeOneNote(t *testing.T) {
	r, _ := syncRun(t, nil)
	for _, name := range []string{"cluster3", "cluster1"} {
		p := gatewayPod("istio-eastwestgateway-"+name, false, waiting("CrashLoopBackOff"))
		r.clients[name] = fakeCluster(name, &p)
		if err := r.gatewayPods(context.Background(), name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.st.Mesh.Clusters[name].GatewayReady {
			t.Errorf("%s: GatewayReady", name)
		}
	}
	var notes []string
	for _, n := range r.st.Mesh.Notes {
		if strings.HasPrefix(n, NoteGatewayCannotRun) {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 || !strings.HasSuffix(notes[0], "(clusters: cluster1, cluster3)") {
		t.Errorf("notes = %q", r.st.Mesh.Notes)
	}

	// The sidecar data plane needs the gateway: the same pods are an error there.
	r.opts.DataPlane = env.DataPlaneSidecar
	if err := r.gatewayPods(context.Background(), "cluster1"); err == nil {
		t.Error("sidecar data plane: no error for gateway pods that cannot run")
	}

	ready := gatewayPod("istio-eastwestgateway-ok", true)
	r.clients["cluster2"] = fakeCluster("cluster2", &ready)
	if err := r.gatewayPods(context.Background(), "cluster2"); err != nil || !r.st.Mesh.Clusters["cluster2"].GatewayReady {
		t.Errorf("ready gateway: %v, %+v", err, r.st.Mesh.Clusters["cluster2"])
	}
}
