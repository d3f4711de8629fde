package istio

import (
	"context"
	"fmt"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
)

// eastWest installs the east-west gateway, the cross-network Gateway (multi-network) and istiod's Gateway and
// VirtualService (gateway exposure), then waits for the gateway's LoadBalancer IP.
func (r *run) eastWest(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	op := render.EastWestOperator(tc.Network, r.opts.Hub, r.opts.Tag)
	file, err := r.writeOperator(name+"-eastwest.yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.InstallGateway(ctx, r.target(name), op, file); err != nil {
		return err
	}
	ic := r.istio[name]
	if r.t.MultiNetwork() {
		if err := applyGateway(ctx, ic, render.CrossNetworkGateway()); err != nil {
			return fmt.Errorf("%s: Gateway %s: %w", name, render.CrossNetworkGatewayName, err)
		}
	}
	if tc.IsPrimary() && r.opts.ExposeIstiod == env.ExposeGateway && len(r.t.RemotesOf(name)) > 0 {
		if err := applyGateway(ctx, ic, render.IstiodGateway()); err != nil {
			return fmt.Errorf("%s: Gateway %s: %w", name, render.IstiodGatewayName, err)
		}
		if err := applyVirtualService(ctx, ic, render.IstiodVirtualService()); err != nil {
			return fmt.Errorf("%s: VirtualService %s: %w", name, render.IstiodVirtualServiceName, err)
		}
	}
	ip, err := waitLoadBalancerIP(ctx, r.clients[name], render.EastWestGatewayName, r.opts.Timeouts.GatewayAddress)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.EastWestGateway = ip })
	r.logf(name, began, "east-west gateway %s at %s", render.EastWestGatewayName, ip)
	return nil
}
