package istio

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
)

// exposeIstiod makes a primary's istiod reachable for its remotes and records the address on all of them.
func (r *run) exposeIstiod(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	var addr, how string
	switch r.opts.ExposeIstiod {
	case env.ExposeLoadBalancer:
		want := render.IstiodLoadBalancer(r.claim.Env, r.opts.Revision)
		if err := checkExisting(ctx, r.claim, objectRef{Cluster: name, Kind: kindService, Namespace: want.Namespace,
			Name: want.Name}, r.clients[name], nil); err != nil {
			return err
		}
		if err := c.ApplyService(ctx, want); err != nil {
			return fmt.Errorf("%s: Service %s: %w", name, render.IstiodLBServiceName, err)
		}
		if err := r.loadBalancers(ctx, name); err != nil {
			return err
		}
		ip, err := waitLoadBalancerIP(ctx, c, render.IstiodLBServiceName, r.opts.Timeouts.GatewayAddress)
		if err != nil {
			return err
		}
		addr, how = ip, "Service "+render.IstiodLBServiceName
	case env.ExposeGateway:
		addr, how = r.meshCluster(name).EastWestGateway, "the east-west gateway"
		if addr == "" {
			return fmt.Errorf("%s: istiod is to be exposed through the east-west gateway, which has no address", name)
		}
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.IstiodAddress = addr })
	var remotes []string
	for _, rc := range r.t.RemotesOf(name) {
		r.mesh(rc.Name, func(mc *env.MeshCluster) { mc.IstiodAddress = addr })
		remotes = append(remotes, rc.Name)
	}
	r.logf(name, began, "istiod exposed at %s through %s for %s", addr, how, strings.Join(remotes, ", "))
	return nil
}
