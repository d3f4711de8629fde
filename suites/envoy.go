package suites

import (
	"strings"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/suites/checks"
)

// A spec that needs Envoy and cannot have it says why (which images the run used, or that it ran no sidecars) and
// how to run it, so the report tells a user with a registry the command that runs it, and one without what is
// missing. The messages keep the "cannot run here: " prefix the report classifies skips by (cannotRunHere).

// proxyImage is the proxyv2 image the run's mesh used, from what `up` recorded; empty when unknown.
func proxyImage(m *checks.Mesh) string {
	if m.State.Mesh == nil || m.State.Mesh.Hub == "" || m.State.Mesh.Tag == "" {
		return ""
	}
	return m.State.Mesh.Hub + "/proxyv2:" + m.State.Mesh.Tag
}

// kitImages says the run used the image kit's Istio build, whose proxyv2 is pilot-agent only.
func kitImages(m *checks.Mesh) bool {
	return m.State.Mesh != nil && m.State.Mesh.Hub == images.IstioHub
}

// noEnvoyInImages is why the gateway pods could not run: the kit's images have no Envoy; other images did not run.
func noEnvoyInImages(m *checks.Mesh) string {
	switch p := proxyImage(m); {
	case kitImages(m):
		return "no Envoy in the images this run used (" + p + " is the image kit's pilot-agent-only build)"
	case p != "":
		return "their proxy image " + p + " did not run (`kubectl -n istio-system describe pods -l app=" +
			"istio-eastwestgateway` says why)"
	}
	return "their proxy image did not run (no Envoy in it?)"
}

// toRunWithEnvoy says how to run a spec that needs Envoy, and what this machine lacks for it.
func toRunWithEnvoy(m *checks.Mesh) string {
	how := "to run it: meshconform run --data-plane sidecar --istio-version " + installer.ExampleRelease +
		" (released images, with Envoy"
	switch {
	case m.State.Images.Source != env.SourceOffline:
	case m.State.Images.Reason == "--offline":
		how += "; needs a registry, and this run used --offline"
	default:
		how += "; needs a registry, and none answered here"
	}
	return how + ")"
}

// needsGateways is the reason of a spec whose traffic needs east-west gateways whose pods cannot run: what
// depends on them, then why and how.
func needsGateways(m *checks.Mesh, what string) Applicability {
	return CannotRunHere(what + ": " + noEnvoyInImages(m) + "; " + toRunWithEnvoy(m))
}

// noSidecars is the reason of a spec that needs Envoy sidecars in a run of another data plane.
func noSidecars(m *checks.Mesh, what string) Applicability {
	why := what + " needs Envoy sidecars; this run used the " + string(m.DataPlane) + " data plane"
	if kitImages(m) {
		why += " and the image kit's proxyv2, which has no Envoy"
	}
	return CannotRunHere(why + "; " + toRunWithEnvoy(m))
}

// joinNames lists cluster names.
func joinNames(names []string) string { return strings.Join(names, ", ") }
