package istio

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/topology"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestInstallOnLiveEnvironment installs Istio into an environment `meshconform up` provisioned, twice (the second
// run must converge without changes), when MESHCONFORM_ISTIO_LIVE names the environment directory. It never creates
// or deletes clusters.
//
//	MESHCONFORM_ISTIO_LIVE=~/.meshconform go test ./framework/istio/ -run Live -v -timeout 30m
func TestInstallOnLiveEnvironment(t *testing.T) {
	dir := os.Getenv("MESHCONFORM_ISTIO_LIVE")
	if dir == "" {
		t.Skip("set MESHCONFORM_ISTIO_LIVE=<environment directory> to install Istio into a live environment")
	}
	st, err := env.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := topology.Builtin(st.Topology.Name)
	if err != nil {
		t.Skipf("the live test re-installs built-in topologies only: %v", err)
	}
	istioctl := os.Getenv("MESHCONFORM_ISTIOCTL")
	if istioctl == "" {
		kit, err := images.New(images.Options{})
		if err != nil {
			t.Fatal(err)
		}
		istioctl = kit.Istioctl()
	}
	if st.Images.Source == env.SourceOffline {
		// provision loads only what the environment needs for itself; Istio's images are the caller's to load.
		for _, c := range st.Clusters {
			if c.Provisioned {
				if err := clusters.LoadImages(context.Background(), c.KindName, images.PilotImage, images.ProxyV2Image); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	inst, resolved, err := installer.Resolve(context.Background(), nil,
		installer.Options{Istioctl: istioctl, Installer: env.Installer(os.Getenv("MESHCONFORM_ISTIO_INSTALLER"))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Options: resolved, Resolved: inst, Out: testWriter{t},
		ExposeIstiod: env.IstiodExposure(os.Getenv("MESHCONFORM_ISTIO_EXPOSE"))}
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		began := time.Now()
		err := Install(ctx, top, st, opts)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		t.Logf("run %d: %s; mesh: %+v", run, time.Since(began).Round(time.Second), *st.Mesh)
		for _, c := range st.Clusters {
			mc, ok := st.Mesh.Clusters[c.Name]
			if !ok || (mc.IntermediateFingerprint == "" && st.Mesh.Installer != env.InstallerPreinstalled) {
				t.Errorf("run %d: %s: %+v", run, c.Name, mc)
			}
			if c.Role == env.RoleRemote && mc.IstiodAddress == "" {
				t.Errorf("run %d: remote %s has no istiod address", run, c.Name)
			}
			if st.MultiNetwork() && mc.EastWestGateway == "" {
				t.Errorf("run %d: %s has no east-west gateway address", run, c.Name)
			}
		}
	}
}
