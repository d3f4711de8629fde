package istio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/istio/render"
)

// writeOperator renders an IstioOperator into the environment's istio directory and returns the file.
func (r *run) writeOperator(file string, op *render.IstioOperator) (string, error) {
	b, err := op.YAML()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r.st.Dir(), "istio")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func (r *run) controlPlane(ctx context.Context, name string) error {
	began := time.Now()
	op, err := render.ControlPlaneOperator(render.RenderInput{Topology: r.t, Cluster: name, Hub: r.opts.Hub, Tag: r.opts.Tag,
		Revision: r.opts.Revision})
	if err != nil {
		return err
	}
	file, err := r.writeOperator(name+".yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.Install(ctx, r.target(name), op, file); err != nil {
		return err
	}
	if err := r.clients[name].WaitDeploymentAvailable(ctx, render.Namespace, render.IstiodName(r.opts.Revision), r.opts.Timeouts.IstiodReady); err != nil {
		if strings.Contains(err.Error(), "ImagePull") || strings.Contains(err.Error(), "ErrImageNeverPull") {
			if r.opts.Hub == "" && r.opts.Tag == "" {
				return fmt.Errorf("istiod: %w; the nodes cannot pull %s's default pilot image (see the pod's image): "+
					"this machine reaches no registry serving it; use the image kit's build (drop --istio-version) or point "+
					"--hub/--tag at a reachable registry", err, r.inst.Name())
			}
			return fmt.Errorf("istiod: %w; the nodes cannot pull %s/pilot:%s: load the image into them first (kind: "+
				"clusters.LoadImages with images.PilotImage and images.ProxyV2Image) or point --hub/--tag at a reachable registry",
				err, r.opts.Hub, r.opts.Tag)
		}
		return fmt.Errorf("istiod: %w", err)
	}
	running, err := r.inst.Verify(ctx, r.target(name), true, r.opts.Revision)
	if err != nil {
		return err
	}
	r.mu.Lock()
	installerVersion := r.st.Mesh.IstioVersion
	if installerVersion == "" {
		// The installer could not tell (development charts say 1.0.0): the running istiod does.
		r.st.Mesh.IstioVersion = running
	}
	r.mu.Unlock()
	if running != "" && installerVersion != "" && running != installerVersion {
		r.note(fmt.Sprintf("istiod in %s reports version %s; %s is %s", name, running, r.inst.Name(), installerVersion))
	}
	tgt, err := r.discover(ctx, name, true)
	if err != nil {
		return err
	}
	r.logf(name, began, "%s %s available (%s, profile %s); test namespaces labelled %s", render.IstiodName(r.opts.Revision),
		orUnknown(running), file, op.Spec.Profile, tgt)
	return nil
}
