package installer

import (
	"context"
	"fmt"
	"io"
	"os/exec"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
)

// Resolve fills the installer's defaults: the kit's istioctl; for helm, helm from PATH or else the kit's bin-helm
// build, and the charts of the istio.io/istio module the kit builds Istio from (the same Istio as its images). It
// then makes the installer and checks its tools, so callers can fail before provisioning anything; only the kit's
// istioctl, which the kit builds later with its images, is checked when Istio's install starts. A command calls it
// once and hands the installer to istio.Install (istio.Options.Resolved) together with the resolved options.
func Resolve(ctx context.Context, kit *images.Kit, o Options, out io.Writer) (Installer, Options, error) {
	if out == nil {
		out = io.Discard
	}
	switch o.Installer {
	case "", env.InstallerIstioctl:
		if o.Istioctl == "" && kit != nil {
			o.Istioctl = kit.Istioctl()
		}
		// The kit's istioctl is built with its images, later: only a given binary can be checked now.
		if kit != nil && o.Istioctl == kit.Istioctl() {
			inst, err := build(o)
			return inst, o, err
		}
	case env.InstallerHelm:
		if o.Helm == "" {
			if p, err := exec.LookPath("helm"); err == nil {
				o.Helm = p
			} else if kit != nil {
				fmt.Fprintf(out, "no helm on PATH and no --helm: building helm %s with the image kit\n", images.HelmVersion)
				if err := kit.Ensure(ctx, images.HelmArtifact); err != nil {
					return nil, o, fmt.Errorf("build helm (or pass --helm PATH): %w", err)
				}
				o.Helm = kit.Helm()
			}
		}
		if o.Charts == "" && kit != nil {
			dir, err := images.IstioCharts(ctx)
			if err != nil {
				return nil, o, fmt.Errorf("charts of istio.io/istio@%s (or pass --charts DIR): %w", images.IstioModuleVersion, err)
			}
			o.Charts = dir
		}
	}
	inst, err := New(o)
	if err != nil {
		return nil, o, err
	}
	return inst, o, nil
}
