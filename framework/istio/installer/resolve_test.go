package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
)

func charts(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{"base", "istiod", "gateway"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "Chart.yaml"), []byte("name: "+d+"\n"), 0o644)
	}
	return dir
}

func TestResolveHelm(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "helm")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	dir := charts(t)

	inst, o, err := Resolve(ctx, nil, Options{Installer: env.InstallerHelm, Helm: bin, Charts: dir}, nil)
	if err != nil || o.Helm != bin || o.Charts != dir || inst.Name() != env.InstallerHelm {
		t.Errorf("given helm and charts: %v, %+v, %v", inst, o, err)
	}

	// helm found on PATH when --helm is not given.
	t.Setenv("PATH", filepath.Dir(bin))
	if _, o, err := Resolve(ctx, nil, Options{Installer: env.InstallerHelm, Charts: dir}, nil); err != nil || o.Helm != bin {
		t.Errorf("helm on PATH: %+v, %v", o, err)
	}

	// Neither --helm, nor PATH, nor a kit: the error names the flag.
	t.Setenv("PATH", t.TempDir())
	_, _, err = Resolve(ctx, nil, Options{Installer: env.InstallerHelm, Charts: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), "--helm PATH") {
		t.Errorf("no helm anywhere: %v", err)
	}
	_, _, err = Resolve(ctx, nil, Options{Installer: env.InstallerHelm, Helm: bin}, nil)
	if err == nil || !strings.Contains(err.Error(), "--charts DIR") {
		t.Errorf("no charts and no kit: %v", err)
	}
}

func TestResolveIstioctl(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Resolve(ctx, nil, Options{Installer: env.InstallerIstioctl}, nil); err == nil ||
		!strings.Contains(err.Error(), "--istioctl PATH") {
		t.Errorf("no istioctl and no kit: %v", err)
	}
	if _, _, err := Resolve(ctx, nil, Options{Istioctl: "/nonexistent/istioctl"}, nil); err == nil {
		t.Error("a missing istioctl accepted")
	}
	if inst, _, err := Resolve(ctx, nil, Options{Installer: env.InstallerPreinstalled}, nil); err != nil || inst.Name() != env.InstallerPreinstalled {
		t.Errorf("preinstalled: %v, %v", inst, err)
	}
}
