package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
)

func TestNew(t *testing.T) {
	for _, bad := range []time.Duration{-time.Second, MaxTimeout + time.Second} {
		if _, err := New(Options{Installer: env.InstallerPreinstalled, Timeout: bad}); err == nil ||
			!strings.Contains(err.Error(), "istio timeout Install") {
			t.Errorf("timeout %s: %v, want it refused", bad, err)
		}
	}
	if _, err := New(Options{Installer: env.InstallerHelm}); err == nil || !strings.Contains(err.Error(), "--helm PATH") {
		t.Errorf("helm without a binary: %v", err)
	}
	if _, err := New(Options{Installer: "kustomize"}); err == nil {
		t.Error("unknown installer accepted")
	}
	if _, err := New(Options{Installer: env.InstallerIstioctl}); err == nil {
		t.Error("istioctl without a binary accepted")
	}
	if _, err := New(Options{Installer: env.InstallerIstioctl, Istioctl: "/nonexistent/istioctl"}); err == nil {
		t.Error("a missing binary accepted")
	}
	i, err := New(Options{Installer: env.InstallerPreinstalled})
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
	i, err := New(Options{Istioctl: bin, Timeout: DefaultTimeout})
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
	i, _ := New(Options{Istioctl: bin, Timeout: DefaultTimeout})
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
