package istio

import (
	"context"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
)

// eastWest installs the east-west gateway, the cross-network Gateway (multi-network) and istiod's Gateway and
// VirtualService (gateway exposure), then waits for the gateway's LoadBalancer IP.
func (r *run) eastWest(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	op := render.EastWestOperator(tc.Network, r.opts.Hub, r.opts.Tag, r.opts.Revision)
	file, err := r.writeOperator(name+"-eastwest.yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.InstallGateway(ctx, r.target(name), op, file); err != nil {
		return err
	}
	ic := r.istio[name]
	if r.t.MultiNetwork() {
		if err := applyGateway(ctx, ic, r.claim, name, render.CrossNetworkGateway(r.claim.Env)); err != nil {
			return annotate(err, "%s: Gateway %s", name, render.CrossNetworkGatewayName)
		}
	}
	if tc.IsPrimary() && r.opts.ExposeIstiod == env.ExposeGateway && len(r.t.RemotesOf(name)) > 0 {
		if err := applyGateway(ctx, ic, r.claim, name, render.IstiodGateway(r.claim.Env)); err != nil {
			return annotate(err, "%s: Gateway %s", name, render.IstiodGatewayName)
		}
		if err := applyVirtualService(ctx, ic, r.claim, name, render.IstiodVirtualService(r.claim.Env, r.opts.Revision)); err != nil {
			return annotate(err, "%s: VirtualService %s", name, render.IstiodVirtualServiceName)
		}
	}
	if err := r.loadBalancers(ctx, name); err != nil {
		return err
	}
	ip, err := waitLoadBalancerIP(ctx, r.clients[name], render.EastWestGatewayName, r.opts.Timeouts.GatewayAddress)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.EastWestGateway = ip })
	r.logf(name, began, "east-west gateway %s at %s", render.EastWestGatewayName, ip)
	return nil
}
