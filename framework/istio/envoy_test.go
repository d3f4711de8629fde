package istio

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
)

func TestPlannedProxyImage(t *testing.T) {
	kit := images.ProxyV2Image
	for _, c := range []struct {
		name              string
		inst              env.Installer
		hub, tag, release string
		kitInstaller      bool
		wantRef           string
		wantKit           bool
	}{
		{"no hub, tag or release: the kit's images, online or not", env.InstallerIstioctl, "", "", "", true, kit, true},
		{"helm with the kit's charts", env.InstallerHelm, "", "", "", true, kit, true},
		{"a released istioctl: its own hub and tag", env.InstallerIstioctl, "", "", "1.31.0", false, "docker.io/istio/proxyv2:1.31.0", false},
		{"a released istioctl with a mirror hub", env.InstallerIstioctl, "mirror.local/istio", "", "1.31.0", false, "mirror.local/istio/proxyv2:1.31.0", false},
		{"hub and tag given", env.InstallerIstioctl, "gcr.io/ci", "pr-7", "", false, "gcr.io/ci/proxyv2:pr-7", false},
		{"the kit's hub named", env.InstallerIstioctl, images.IstioHub, "", "", true, kit, true},
		{"a tag for the kit's istioctl: the kit's hub", env.InstallerIstioctl, "", "other", "", true, images.IstioHub + "/proxyv2:other", true},
		{"a hub for another istioctl: its tag is unknown", env.InstallerIstioctl, "gcr.io/ci", "", "", false, "", false},
		{"a tag for other charts: their hub is unknown", env.InstallerHelm, "", "pr-7", "", false, "", false},
		{"preinstalled: whatever the mesh runs", env.InstallerPreinstalled, "", "", "", false, "", false},
	} {
		got := PlannedProxyImage(c.inst, c.hub, c.tag, c.release, c.kitInstaller)
		if got.Ref != c.wantRef || got.Kit != c.wantKit {
			t.Errorf("%s: %+v, want {Ref:%s Kit:%v}", c.name, got, c.wantRef, c.wantKit)
		}
	}
}

// inspector is what a docker engine would say: the images it has and their labels.
func inspector(local map[string]map[string]string) InspectImage {
	return func(_ context.Context, ref string) (map[string]string, bool) {
		l, ok := local[ref]
		return l, ok
	}
}

func TestRequireEnvoy(t *testing.T) {
	ctx := context.Background()
	absent := map[string]string{images.EnvoyLabel: "absent: Envoy is in no reachable registry; only the proxyless gRPC data plane works"}
	release := ProxyImage{Ref: "docker.io/istio/proxyv2:1.31.0"}
	for _, c := range []struct {
		name   string
		img    ProxyImage
		local  map[string]map[string]string
		refuse bool
		why    string
	}{
		{"the kit's image, built here", ProxyImage{Ref: images.ProxyV2Image, Kit: true},
			map[string]map[string]string{images.ProxyV2Image: absent}, true, `its label io.meshconform.envoy says "absent: Envoy is in no`},
		{"the kit's image, not built yet: still known", ProxyImage{Ref: images.ProxyV2Image, Kit: true}, nil, true, "image kit's build, pilot-agent only"},
		{"the kit's image under a released name (pushed to a mirror, tagged here)", release,
			map[string]map[string]string{release.Ref: absent}, true, "label io.meshconform.envoy says"},
		{"a released image, not local: pulled when the pods start", release, nil, false, "not a local image"},
		{"a released image, local, without the label", release,
			map[string]map[string]string{release.Ref: {"org.opencontainers.image.version": "1.31.0"}}, false, "does not say Envoy is absent"},
		{"a label that does not say absent", release,
			map[string]map[string]string{release.Ref: {images.EnvoyLabel: "present"}}, false, "does not say Envoy is absent"},
		{"unknown image (preinstalled)", ProxyImage{}, nil, false, "not known before installing"},
	} {
		err := RequireEnvoy(ctx, "--data-plane sidecar", c.img, inspector(c.local))
		var ne *NoEnvoyError
		if refused := errors.As(err, &ne); refused != c.refuse {
			t.Errorf("%s: refused %v (%v), want %v", c.name, refused, err, c.refuse)
			continue
		}
		v := EnvoyIn(ctx, c.img, inspector(c.local))
		if !strings.Contains(v.Why, c.why) {
			t.Errorf("%s: why %q, want it to say %q", c.name, v.Why, c.why)
		}
		if ne == nil {
			continue
		}
		msg := err.Error()
		for _, want := range []string{"--data-plane sidecar needs Envoy", c.img.Ref, "--istio-version 1.31.0", "--hub/--tag",
			"--data-plane proxyless"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: the refusal does not say %q: %s", c.name, want, msg)
			}
		}
	}
}
