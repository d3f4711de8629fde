package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio"
)

// withLocalImages makes the Envoy guards see these local images (and no other) instead of asking docker.
func withLocalImages(t *testing.T, local map[string]map[string]string) {
	saved := inspectImage
	inspectImage = func(_ context.Context, ref string) (map[string]string, bool) {
		l, ok := local[ref]
		return l, ok
	}
	t.Cleanup(func() { inspectImage = saved })
}

var kitLabels = map[string]string{images.EnvoyLabel: "absent: Envoy is in no reachable registry; only the proxyless gRPC data plane works"}

// What needs Envoy with a proxy image that has none is refused as bad input before anything is made: no state
// directory, no lock, no preflight, no cluster.
func TestEnvoyGuardsRefuseBeforeAnythingIsCreated(t *testing.T) {
	withLocalImages(t, map[string]map[string]string{images.ProxyV2Image: kitLabels,
		"docker.io/istio/proxyv2:1.31.0": kitLabels}) // the kit's image tagged under the released name
	t.Setenv(env.NameEnv, "")
	// Should a guard let one through, the run stops at docker (preflight) instead of creating clusters.
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	for _, c := range []struct {
		args []string
		says []string
	}{
		{[]string{"run", "--data-plane", "sidecar"},
			[]string{"--data-plane sidecar needs Envoy", images.ProxyV2Image, "--istio-version 1.31.0", "--hub/--tag"}},
		{[]string{"up", "--data-plane", "sidecar"}, []string{"--data-plane sidecar needs Envoy", "--istio-version"}},
		{[]string{"up", "--data-plane", "sidecar", "--installer", "helm"}, []string{"--data-plane sidecar needs Envoy"}},
		{[]string{"run", "--data-plane", "sidecar", "--hub", images.IstioHub, "--tag", images.IstioVersion},
			[]string{"needs Envoy", "image kit's build"}},
		// The released name, but the local image says it is the kit's: pulled through a mirror it would crash-loop.
		{[]string{"run", "--data-plane", "sidecar", "--hub", "docker.io/istio", "--tag", "1.31.0"},
			[]string{"needs Envoy", "docker.io/istio/proxyv2:1.31.0", `says "absent`}},
		// The install guide's check asked for by itself: proxyless has no sidecars to run it with.
		{[]string{"run", "--label-filter", "spec:doc-fidelity-helloworld"},
			[]string{"doc-fidelity-helloworld needs --data-plane sidecar", "--istio-version 1.31.0"}},
		{[]string{"run", "--focus", "toggles helloworld"}, []string{"doc-fidelity-helloworld needs --data-plane sidecar"}},
		// Every Envoy spec, on the kit's images: none can run.
		{[]string{"run", "--label-filter", "needs:envoy"},
			[]string{"every spec --label-filter/--focus selects (gateway-ports, doc-fidelity-helloworld, authz-foreign-trust-domain) needs Envoy", images.ProxyV2Image, "--istio-version 1.31.0"}},
	} {
		state := filepath.Join(t.TempDir(), "state")
		args := append(c.args, "--state-dir", state, "--cache-dir", filepath.Join(t.TempDir(), "cache"))
		root := newRootCommand()
		root.SetArgs(args)
		root.SetOut(new(discard))
		err := root.Execute()
		if got := exitCode(err); got != exitUsage {
			t.Errorf("meshconform %v: exit code %d, want %d (%v)", c.args, got, exitUsage, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("meshconform %v: the refusal does not say %q: %v", c.args, s, err)
			}
		}
		if _, serr := os.Stat(state); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("meshconform %v: refused, yet the state directory was created (%v)", c.args, serr)
		}
	}
}

// The other way: runs that can have Envoy are not refused.
func TestEnvoyGuardsLetRunnableRunsThrough(t *testing.T) {
	ctx := context.Background()
	withLocalImages(t, map[string]map[string]string{images.ProxyV2Image: kitLabels,
		"ci.local/istio/proxyv2:pr-1": {"org.opencontainers.image.title": "proxyv2"}})
	sidecar := meshFlags{installer: env.InstallerIstioctl, dataPlane: env.DataPlaneSidecar}
	proxyless := meshFlags{installer: env.InstallerIstioctl, dataPlane: env.DataPlaneProxyless}
	release := func(m meshFlags) meshFlags { m.istioVersion = "1.31.0"; return m }
	hubTag := func(m meshFlags) meshFlags { m.hub, m.tag = "ci.local/istio", "pr-1"; return m }
	for _, c := range []struct {
		name   string
		m      meshFlags
		filter string
		focus  []string
	}{
		{"sidecar with a released Istio (its images are not local: pulled)", release(sidecar), "", nil},
		{"sidecar with a local CI build that does not say Envoy is absent", hubTag(sidecar), "", nil},
		{"sidecar on a preinstalled mesh", meshFlags{installer: env.InstallerPreinstalled, dataPlane: env.DataPlaneSidecar}, "", nil},
		{"the kit's images, proxyless, everything selected (Envoy specs skip with their reason)", proxyless, "", nil},
		{"the guide's check with sidecars and a released Istio", release(sidecar), "spec:doc-fidelity-helloworld", nil},
		{"gateway specs, proxyless with a released Istio (the gateways run Envoy)", release(proxyless), "needs:envoy", nil},
		{"an Envoy spec and one that runs anywhere", proxyless, "spec:gateway-ports || spec:trust-shared-root", nil},
		{"a selection of nothing runs nothing", proxyless, "spec:no-such-spec", nil},
	} {
		if err := c.m.requireEnvoy(ctx); err != nil {
			t.Errorf("%s: requireEnvoy refused: %v", c.name, err)
		}
		if err := requireRunnableSelection(ctx, c.m, c.filter, c.focus); err != nil {
			t.Errorf("%s: the selection was refused: %v", c.name, err)
		}
	}
	// And the same flags with the kit's images are refused, so the cases above pass for their reason.
	var ne *istio.NoEnvoyError
	if err := sidecar.requireEnvoy(ctx); !errors.As(err, &ne) {
		t.Errorf("sidecar on the kit's images: %v", err)
	}
}
