package istio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
)

func TestTimeoutsWithDefaults(t *testing.T) {
	got, err := Timeouts{RemoteSync: time.Minute}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultTimeouts
	want.RemoteSync = time.Minute
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := (Timeouts{GatewayPods: time.Hour, Install: -time.Second}).WithDefaults(); err == nil ||
		!strings.Contains(err.Error(), "GatewayPods") || !strings.Contains(err.Error(), "Install") {
		t.Errorf("err = %v, want both fields named", err)
	}
	// Every default is within its maximum.
	if _, err := DefaultTimeouts.WithDefaults(); err != nil {
		t.Error(err)
	}
	if _, err := MaxTimeouts.WithDefaults(); err != nil {
		t.Error(err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	st := &env.State{Images: env.Images{Source: "offline"}}
	o, err := Options{Istioctl: "/bin/true"}.withDefaults(st)
	if err != nil {
		t.Fatal(err)
	}
	if o.Installer != env.InstallerIstioctl || o.DataPlane != env.DataPlaneProxyless || o.ExposeIstiod != env.ExposeLoadBalancer {
		t.Errorf("defaults %+v", o)
	}
	if o.Hub != images.IstioHub || o.Tag != images.IstioVersion {
		t.Errorf("offline images: hub/tag %s/%s, want the kit's", o.Hub, o.Tag)
	}
	o, err = Options{DataPlane: env.DataPlaneSidecar, Hub: "docker.io/istio", Tag: "1.31.0"}.withDefaults(&env.State{})
	if err != nil {
		t.Fatal(err)
	}
	if o.ExposeIstiod != env.ExposeGateway || o.Hub != "docker.io/istio" {
		t.Errorf("sidecar defaults %+v", o)
	}
	for _, bad := range []Options{{DataPlane: "ambient"}, {ExposeIstiod: "nodeport"}, {Timeouts: Timeouts{RemoteSync: time.Hour}}} {
		if _, err := bad.withDefaults(&env.State{}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestNewInstaller(t *testing.T) {
	if _, err := NewInstaller(Options{Installer: env.InstallerHelm}); err == nil || !strings.Contains(err.Error(), "--helm PATH") {
		t.Errorf("helm without a binary: %v", err)
	}
	if _, err := NewInstaller(Options{Installer: "kustomize"}); err == nil {
		t.Error("unknown installer accepted")
	}
	if _, err := NewInstaller(Options{Installer: env.InstallerIstioctl}); err == nil {
		t.Error("istioctl without a binary accepted")
	}
	if _, err := NewInstaller(Options{Installer: env.InstallerIstioctl, Istioctl: "/nonexistent/istioctl"}); err == nil {
		t.Error("a missing binary accepted")
	}
	i, err := NewInstaller(Options{Installer: env.InstallerPreinstalled})
	if err != nil || i.Name() != env.InstallerPreinstalled {
		t.Errorf("preinstalled: %v %v", i, err)
	}
}

func TestIstioctlVersionFromTheBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "istioctl")
	script := "#!/bin/sh\necho 'WARNING: something' >&2\necho '{\"clientVersion\":{\"version\":\"1.31-alpha.x\",\"revision\":\"x\"}}'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	i, err := NewInstaller(Options{Istioctl: bin, Timeouts: DefaultTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	v, err := i.Version(context.Background())
	if err != nil || v != "1.31-alpha.x" {
		t.Errorf("version %q, %v", v, err)
	}
	if v, err := parseIstioctlVersion([]byte("warn: x\n{\"clientVersion\":{\"version\":\"1.2.3\"}}")); err != nil || v != "1.2.3" {
		t.Errorf("with a prefix: %q %v", v, err)
	}
	if _, err := parseIstioctlVersion([]byte(`{"clientVersion":{}}`)); err == nil {
		t.Error("empty version accepted")
	}
}

func TestIstioctlFailureCarriesOutput(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "istioctl")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'Error: failed to install manifests: boom' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	i, _ := NewInstaller(Options{Istioctl: bin, Timeouts: DefaultTimeouts})
	err := i.Install(context.Background(), Target{Name: "cluster1", Kubeconfig: "/k"}, nil, "/f.yaml")
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "cluster1") {
		t.Errorf("err = %v", err)
	}
}

func TestImageTag(t *testing.T) {
	for ref, want := range map[string]string{
		"meshconform.io/istio/pilot:1.31-alpha.x": "1.31-alpha.x",
		"localhost:5000/istio/pilot:1.2":          "1.2",
		"localhost:5000/istio/pilot":              "",
		"docker.io/istio/pilot:1.2@sha256:abc":    "1.2",
	} {
		if got := imageTag(ref); got != want {
			t.Errorf("imageTag(%s) = %q, want %q", ref, got, want)
		}
	}
}

func TestInstallRefusesAnEnvironmentWithoutClusters(t *testing.T) {
	top := mustBuiltin(t, "multi-primary")
	st := top.NewState(t.TempDir())
	err := Install(context.Background(), top, st, Options{Installer: env.InstallerPreinstalled})
	if err == nil || !strings.Contains(err.Error(), "cluster1") || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("err = %v", err)
	}
}

func TestParseIstiodVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.31-alpha.eed52ebb66ad-eed52ebb66ad-Clean\n": "1.31-alpha.eed52ebb66ad",
		"1.30.1-abcdef-Clean":                          "1.30.1",
		`{"clientVersion":{"version":"1.29.0"}}`:       "1.29.0",
		"unknown":                                      "unknown",
	} {
		if got := parseIstiodVersion(in); got != want {
			t.Errorf("parseIstiodVersion(%q) = %q, want %q", in, got, want)
		}
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
