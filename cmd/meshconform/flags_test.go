package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMeshFlagConflictsAreUsageErrors runs `up` and `run` with contradictory mesh flags: each must stop at flag
// validation (nothing provisioned) with exit code 2 and a message naming the flags.
func TestMeshFlagConflictsAreUsageErrors(t *testing.T) {
	charts := t.TempDir()
	for _, d := range []string{"base", "istiod", "gateway"} {
		os.MkdirAll(filepath.Join(charts, d), 0o755)
		os.WriteFile(filepath.Join(charts, d, "Chart.yaml"), []byte("name: "+d+"\n"), 0o644)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--istio-version", "1.24.3", "--istioctl", "/bin/true"}, "--istio-version and --istioctl"},
		{[]string{"--istio-version", "1.24.3", "--installer", "helm"}, "--installer helm does not use"},
		{[]string{"--istio-release-url", "http://mirror.example"}, "give --istio-version too"},
		{[]string{"--helm", "/bin/true"}, "--helm and --charts are for --installer helm"},
		{[]string{"--installer", "helm", "--istioctl", "/bin/true"}, "--istioctl is for --installer istioctl"},
		{[]string{"--installer", "helm", "--helm", "/nonexistent/helm"}, "--helm /nonexistent/helm"},
		{[]string{"--installer", "helm", "--charts", filepath.Join(charts, "base")}, "is a single chart"},
		{[]string{"--installer", "helm", "--charts", t.TempDir()}, "--charts"},
		{[]string{"--installer", "kustomize"}, "--installer \"kustomize\""},
		{[]string{"--installer", "preinstalled", "--adopt-existing-secrets"}, "--adopt-existing-secrets takes over"},
		{[]string{"--no-mesh", "--adopt-existing-secrets"}, "--no-mesh and --installer preinstalled write none"},
		{[]string{"--revision", "1.31"}, `--revision "1.31" is not a DNS label`},
		{[]string{"--revision", "Canary", "--installer", "preinstalled"}, `--revision "Canary" is not a DNS label`},
		{[]string{"--revision", "canary", "--no-mesh"}, "--no-mesh does not install"},
	}
	for _, c := range cases {
		for _, cmd := range []string{"up", "run"} {
			root := newRootCommand()
			root.SetArgs(append([]string{cmd, "--state-dir", t.TempDir(), "--cache-dir", t.TempDir()}, c.args...))
			err := root.Execute()
			if err == nil {
				t.Errorf("%s %v: accepted", cmd, c.args)
				continue
			}
			if code := exitCode(err); code != exitUsage {
				t.Errorf("%s %v: exit code %d, want 2 (%v)", cmd, c.args, code, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %v: %q does not mention %q", cmd, c.args, err, c.want)
			}
		}
	}
}

func TestMeshFlagsAcceptHelmWithCharts(t *testing.T) {
	charts := t.TempDir()
	for _, d := range []string{"base", "istiod", "gateway"} {
		os.MkdirAll(filepath.Join(charts, d), 0o755)
		os.WriteFile(filepath.Join(charts, d, "Chart.yaml"), []byte("name: "+d+"\n"), 0o644)
	}
	m := meshFlags{installer: "helm", helm: "/bin/true", charts: charts, dataPlane: "proxyless"}
	if err := m.validate(); err != nil {
		t.Error(err)
	}
	m = meshFlags{installer: "istioctl", istioVersion: "1.24.3", releaseURL: "http://mirror.example", dataPlane: "sidecar"}
	if err := m.validate(); err != nil {
		t.Error(err)
	}
}

// TestIstioVersionFetchesTheRelease: --istio-version downloads, verifies and selects the release's istioctl, with
// the release's own images, before anything is provisioned.
func TestIstioVersionFetchesTheRelease(t *testing.T) {
	var archive bytes.Buffer
	gz := gzip.NewWriter(&archive)
	tw := tar.NewWriter(gz)
	body := "#!/bin/sh\necho 1.24.3\n"
	tw.WriteHeader(&tar.Header{Name: "istioctl", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	gz.Close()
	digest := sha256.Sum256(archive.Bytes())
	name := "istioctl-1.24.3-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
	if runtime.GOOS != "linux" {
		t.Skip("the test serves the linux archive name")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/1.24.3/" + name:
			w.Write(archive.Bytes())
		case "/1.24.3/" + name + ".sha256":
			fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(digest[:]), name)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := envFlags{stateDir: t.TempDir(), cacheDir: t.TempDir()}
	m := meshFlags{installer: "istioctl", istioVersion: "1.24.3", releaseURL: srv.URL, dataPlane: "proxyless", adopt: true}
	if err := m.validate(); err != nil {
		t.Fatal(err)
	}
	o, err := m.istioOptions(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.cacheDir, "istioctl", "1.24.3", "istioctl"); o.Istioctl != want || !o.InstallerImages {
		t.Errorf("options %+v: want istioctl %s with its own images", o, want)
	}
	if !o.AdoptExistingSecrets {
		t.Error("--adopt-existing-secrets did not reach istio.Options")
	}
	m.istioVersion = "1.99.0"
	if _, err := m.istioOptions(context.Background(), f, nil); err == nil || !strings.Contains(err.Error(), "1.99.0: no such release") {
		t.Errorf("unknown release: %v", err)
	}
}
