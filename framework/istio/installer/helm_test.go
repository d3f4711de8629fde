package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/topology"
)

// fakeCharts writes the three charts in the layout of Istio's source tree (manifests/charts).
func fakeCharts(t *testing.T, appVersion string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"base", "istio-control/istio-discovery", "gateway"} {
		dir := filepath.Join(root, "manifests", "charts", d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		chart := "apiVersion: v2\nname: " + filepath.Base(d) + "\nversion: " + appVersion + "\nappVersion: " + appVersion + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(chart), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindHelmCharts(t *testing.T) {
	root := fakeCharts(t, "1.24.3")
	for _, dir := range []string{root, filepath.Join(root, "manifests"), filepath.Join(root, "manifests", "charts")} {
		c, err := FindHelmCharts(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if want := filepath.Join(root, "manifests", "charts", "istio-control", "istio-discovery"); c.Istiod != want {
			t.Errorf("%s: istiod chart %s, want %s", dir, c.Istiod, want)
		}
	}
	// helm pull --untar layout: istiod under its chart name.
	pulled := t.TempDir()
	for _, d := range []string{"base", "istiod", "gateway"} {
		os.MkdirAll(filepath.Join(pulled, d), 0o755)
		os.WriteFile(filepath.Join(pulled, d, "Chart.yaml"), []byte("name: "+d+"\n"), 0o644)
	}
	if c, err := FindHelmCharts(pulled); err != nil || c.Istiod != filepath.Join(pulled, "istiod") {
		t.Errorf("pulled charts: %+v, %v", c, err)
	}
	if _, err := FindHelmCharts(filepath.Join(pulled, "istiod")); err == nil || !strings.Contains(err.Error(), "is a single chart") {
		t.Errorf("one chart given as --charts: %v", err)
	}
	os.RemoveAll(filepath.Join(pulled, "istiod"))
	_, err := FindHelmCharts(pulled)
	if err == nil || !strings.Contains(err.Error(), "lacks istiod") || !strings.Contains(err.Error(), "--charts") {
		t.Errorf("charts without istiod: %v, want an error naming istiod and --charts", err)
	}
}

func TestNewHelmInstallerNamesTheFlagToFix(t *testing.T) {
	charts := fakeCharts(t, "1.24.3")
	bin := fakeHelm(t, "v3.22.0")
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"no --helm", Options{Installer: env.InstallerHelm, Charts: charts}, []string{"--helm PATH", "bin-helm"}},
		{"--helm missing", Options{Installer: env.InstallerHelm, Helm: "/nonexistent/helm", Charts: charts}, []string{"--helm /nonexistent/helm"}},
		{"no --charts", Options{Installer: env.InstallerHelm, Helm: bin}, []string{"--charts DIR", "istio-discovery"}},
		{"--charts missing", Options{Installer: env.InstallerHelm, Helm: bin, Charts: "/nonexistent"}, []string{"--charts /nonexistent"}},
		{"--charts empty", Options{Installer: env.InstallerHelm, Helm: bin, Charts: t.TempDir()}, []string{"lacks base", "istiod", "gateway", "helm pull"}},
	}
	for _, c := range cases {
		_, err := New(c.opts)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	inst, err := New(Options{Installer: env.InstallerHelm, Helm: bin, Charts: charts})
	if err != nil || inst.Name() != env.InstallerHelm {
		t.Fatalf("New: %v, %v", inst, err)
	}
}

// fakeHelm is a helm that prints version on `version --short`, logs every other call's arguments (one line each)
// to $FAKE_HELM_LOG, and fails with $FAKE_HELM_FAIL when that is set.
func fakeHelm(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "helm")
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo " + version + "+gdeadbeef; exit 0; fi\n" +
		"echo \"$@\" >> \"$FAKE_HELM_LOG\"\n" +
		"if [ -n \"$FAKE_HELM_FAIL\" ]; then echo \"$FAKE_HELM_FAIL\" >&2; exit 1; fi\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// The inputs of render's golden files, which TestHelmInstallerRunsUpgradeInstallPerRelease compares with.
const (
	testHub         = "meshconform.io/istio"
	testTag         = "1.31-alpha.test"
	testRemotePilot = "192.0.2.10"
)

func TestHelmInstallerRunsUpgradeInstallPerRelease(t *testing.T) {
	charts := fakeCharts(t, "1.24.3")
	log := filepath.Join(t.TempDir(), "calls")
	t.Setenv("FAKE_HELM_LOG", log)
	inst, err := New(Options{Installer: env.InstallerHelm, Helm: fakeHelm(t, "v3.22.0"), Charts: charts})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := inst.Version(ctx); err != nil || v != "1.24.3" {
		t.Fatalf("Version = %q, %v; want the istiod chart's appVersion 1.24.3", v, err)
	}
	top, err := topology.Builtin("primary-remote-multi-network")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	tgt := Target{Name: "cluster2", Kubeconfig: "/kc/cluster2", Context: "kind-c2"}
	op, err := render.ControlPlaneOperator(render.RenderInput{Topology: top, Cluster: "cluster2", Hub: testHub, Tag: testTag, RemotePilotAddress: testRemotePilot})
	if err != nil {
		t.Fatal(err)
	}
	opFile := filepath.Join(work, "cluster2.yaml")
	ewFile := filepath.Join(work, "cluster2-eastwest.yaml")
	// Twice: re-running `up` must issue the same idempotent commands.
	for i := 0; i < 2; i++ {
		if err := inst.Install(ctx, tgt, op, opFile); err != nil {
			t.Fatal(err)
		}
		if err := inst.InstallGateway(ctx, tgt, render.EastWestOperator("network2", testHub, testTag, ""), ewFile); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(log)
	calls := strings.Split(strings.TrimSpace(string(b)), "\n")
	c := filepath.Join(charts, "manifests", "charts")
	kube := " --kubeconfig /kc/cluster2 --kube-context kind-c2"
	want := []string{
		"upgrade --install istio-base " + c + "/base --namespace istio-system -f " + work + "/cluster2.helm-base.yaml --wait --timeout 5m0s" + kube,
		"upgrade --install istiod " + c + "/istio-control/istio-discovery --namespace istio-system -f " + work + "/cluster2.helm-istiod.yaml --wait --timeout 5m0s" + kube,
		"upgrade --install istio-eastwestgateway " + c + "/gateway --namespace istio-system -f " + work + "/cluster2-eastwest.helm-gateway.yaml" + kube,
	}
	want = append(want, want...)
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("helm calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range []string{"cluster2.helm-base.yaml", "cluster2.helm-istiod.yaml", "cluster2-eastwest.helm-gateway.yaml"} {
		b, err := os.ReadFile(filepath.Join(work, f))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "render", "testdata", "helm", "primary-remote-multi-network", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s written by Install differs from the golden file", f)
		}
	}

	t.Setenv("FAKE_HELM_FAIL", `Error: Unable to continue with install: CustomResourceDefinition "gateways.networking.istio.io" in namespace "" exists and cannot be imported into the current release: invalid ownership metadata`)
	err = inst.Install(ctx, tgt, op, opFile)
	if err == nil || !strings.Contains(err.Error(), "cluster2: helm upgrade --install istio-base") ||
		!strings.Contains(err.Error(), "installed by istioctl?") {
		t.Errorf("ownership conflict: %v, want the release, helm's message and the fix", err)
	}
}

func TestHelmVersion(t *testing.T) {
	ctx := context.Background()
	dev, err := New(Options{Installer: env.InstallerHelm, Helm: fakeHelm(t, "v3.22.0"), Charts: fakeCharts(t, "1.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dev.Version(ctx); err != nil || v != "" {
		t.Errorf("development charts: Version = %q, %v; want \"\" (1.0.0 is a placeholder; the running istiod tells)", v, err)
	}
	old, err := New(Options{Installer: env.InstallerHelm, Helm: fakeHelm(t, "v2.17.0"), Charts: fakeCharts(t, "1.24.3")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Version(ctx); err == nil || !strings.Contains(err.Error(), "helm 3 or 4") {
		t.Errorf("helm 2: %v, want a refusal", err)
	}
}

func TestHelmInterruptStopsHelm(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "helm")
	// Exits 0 on SIGINT, so the test also proves an interrupted run reports the cancellation, not success.
	os.WriteFile(bin, []byte("#!/bin/sh\ntrap 'exit 0' INT\nwhile :; do sleep 0.1; done\n"), 0o755)
	h := &helm{bin: bin}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := h.run(ctx, "upgrade"); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted helm: %v, want context.Canceled", err)
	}
}
