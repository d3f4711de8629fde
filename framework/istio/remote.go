package istio

import (
	"context"
	"time"

	"github.com/meshconform/meshconform/framework/istio/render"
)

// remote installs the remote profile pointing at the primary's exposed istiod.
func (r *run) remote(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	addr := r.meshCluster(tc.Primary).IstiodAddress
	op, err := render.ControlPlaneOperator(render.RenderInput{Topology: r.t, Cluster: name, Hub: r.opts.Hub, Tag: r.opts.Tag, RemotePilotAddress: addr,
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
	if _, err := r.inst.Verify(ctx, r.target(name), false, r.opts.Revision); err != nil {
		return err
	}
	if _, err := r.discover(ctx, name, false); err != nil {
		return err
	}
	r.logf(name, began, "remote profile installed, istiod at %s (%s) (%s)", addr, tc.Primary, file)
	return nil
}
