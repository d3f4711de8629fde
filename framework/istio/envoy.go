package istio

import (
	"context"
	"fmt"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/installer"
)

// What needs Envoy (the sidecar data plane, the install guide's check) is refused before any cluster is created when
// the proxy image the install would run is known to have none: otherwise istiod comes up, the sidecars and gateways
// crash-loop, and the user learns it minutes later from a timeout.

// ProxyImage is the proxyv2 image (sidecars, gateways) an install runs, as far as it is known before installing.
type ProxyImage struct {
	// Ref is the image; empty when it cannot be known before installing: a preinstalled mesh, or a --hub or --tag
	// whose other half is the default of an istioctl or of charts meshconform did not build.
	Ref string
	// Kit says Ref is the image kit's build: pilot-agent only, no Envoy.
	Kit bool
}

// PlannedProxyImage says which proxyv2 image an install runs. release is --istio-version (empty: none); kitInstaller
// says the installer is the kit's own istioctl or the charts of the kit's Istio, whose default hub and tag are the
// kit's.
func PlannedProxyImage(inst env.Installer, hub, tag, release string, kitInstaller bool) ProxyImage {
	if inst == env.InstallerPreinstalled {
		return ProxyImage{}
	}
	// Without --hub, --tag and --istio-version the install loads and runs the kit's images, online or not
	// (install's "mesh images" phase).
	if hub == "" && tag == "" && release == "" {
		return ProxyImage{Ref: images.ProxyV2Image, Kit: true}
	}
	if hub == "" {
		switch {
		case release != "":
			hub = installer.ReleaseHub
		case kitInstaller:
			hub = images.IstioHub
		default:
			return ProxyImage{}
		}
	}
	if tag == "" {
		switch {
		case release != "":
			tag = release
		case kitInstaller || hub == images.IstioHub:
			tag = images.IstioVersion
		default:
			return ProxyImage{}
		}
	}
	return ProxyImage{Ref: hub + "/proxyv2:" + tag, Kit: hub == images.IstioHub}
}

// EnvoyVerdict is what is known about Envoy in a proxy image before installing.
type EnvoyVerdict struct {
	Image string
	// Absent says the image is known to have no Envoy; Why says how that is known.
	Absent bool
	Why    string
}

// JudgeEnvoy decides from what the engine says of the image (its labels, when it has it): the kit's images have no
// Envoy (the kit builds pilot-agent only: Envoy is in no registry it can reach), and neither has any local image
// whose io.meshconform.envoy label says so (the kit's image pushed or tagged under another name keeps it). Anything
// else may have Envoy: a released or CI-built proxyv2 is pulled when the pods start.
func JudgeEnvoy(img ProxyImage, labels map[string]string, local bool) EnvoyVerdict {
	v := EnvoyVerdict{Image: img.Ref}
	label, absent := images.EnvoyAbsentIn(labels)
	switch {
	case img.Ref == "":
		v.Why = "the proxy image is not known before installing"
	case local && absent:
		v.Absent = true
		v.Why = fmt.Sprintf("its label %s says %q", images.EnvoyLabel, label)
		if img.Kit {
			v.Why = "it is the image kit's build, pilot-agent only; " + v.Why
		}
	case img.Kit:
		v.Absent = true
		v.Why = "it is the image kit's build, pilot-agent only: Envoy is in no registry the kit can reach"
	case local:
		v.Why = "a local image that does not say Envoy is absent"
	default:
		v.Why = "not a local image: pulled when the pods start"
	}
	return v
}

// NoEnvoyError is a run refused because what it asks for needs Envoy and its proxy image has none.
type NoEnvoyError struct {
	// What needs Envoy, e.g. "--data-plane sidecar".
	What    string
	Verdict EnvoyVerdict
	// Otherwise is the way out that needs no Envoy (default: the proxyless data plane).
	Otherwise string
}

func (e *NoEnvoyError) Error() string {
	otherwise := e.Otherwise
	if otherwise == "" {
		otherwise = "the proxyless data plane (--data-plane proxyless, the default) runs without Envoy"
	}
	return fmt.Sprintf("%s needs Envoy, and the proxy image this run would install, %s, has none (%s). "+
		"Use a released Istio, which installs its own images with Envoy: --istio-version %s (its images are pulled "+
		"from %s: needs a registry, or --hub/--tag naming one that serves them), or point --hub/--tag at a proxyv2 "+
		"build with Envoy; %s", e.What, e.Verdict.Image, e.Verdict.Why, installer.ExampleRelease, installer.ReleaseHub,
		otherwise)
}

// InspectImage reads an image's labels from the local engine; ok is false when it does not have the image.
type InspectImage func(ctx context.Context, ref string) (labels map[string]string, ok bool)

// RequireEnvoy refuses (a *NoEnvoyError) what needs Envoy when img is known to have none; inspect nil asks the local
// docker engine (images.LocalImageLabels).
func RequireEnvoy(ctx context.Context, what string, img ProxyImage, inspect InspectImage) error {
	if v := EnvoyIn(ctx, img, inspect); v.Absent {
		return &NoEnvoyError{What: what, Verdict: v}
	}
	return nil
}

// EnvoyIn judges img, inspecting it in the local engine (inspect nil: images.LocalImageLabels).
func EnvoyIn(ctx context.Context, img ProxyImage, inspect InspectImage) EnvoyVerdict {
	if inspect == nil {
		inspect = images.LocalImageLabels
	}
	var labels map[string]string
	local := false
	if img.Ref != "" {
		labels, local = inspect(ctx, img.Ref)
	}
	return JudgeEnvoy(img, labels, local)
}
