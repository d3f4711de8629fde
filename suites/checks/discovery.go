package checks

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// Synced fails unless every primary's istiod reports every cluster of the mesh synced (istiod's /debug/clusterz,
// what `istioctl remote-clusters` shows).
func Synced(ctx context.Context, m *Mesh) error {
	for _, c := range m.State.Clusters {
		if c.Role != topology.RolePrimary {
			continue
		}
		statuses, err := istiod.ClusterStatuses(ctx, m.Clients[c.Name], m.Revision(c.Name))
		if err != nil {
			return fmt.Errorf("%s: istiod cluster status: %w", c.Name, err)
		}
		ids, names := []string{}, map[string]string{}
		for _, n := range m.Names() {
			ids = append(ids, m.IstioID(n))
			names[m.IstioID(n)] = n
		}
		if problems := istiod.SyncProblems(statuses, ids); len(problems) > 0 {
			var ps []string
			for _, p := range problems {
				s := p.String()
				if n := names[p.Cluster]; n != p.Cluster {
					s = fmt.Sprintf("%s (Istio cluster ID %s)%s", n, p.Cluster, strings.TrimPrefix(s, p.Cluster))
				}
				ps = append(ps, s)
			}
			return fail(v1alpha1.AreaDiscovery, causeRemoteSecret, inspectIstiod(c.Name), "%s's istiod: %s", c.Name,
				strings.Join(ps, "; "))
		}
	}
	return nil
}

// KeepCalling runs the client in src in the background, a call every 100 ms, until stop is called. A proxyless
// client holds its xDS stream (and istiod its endpoints) only while it runs; Endpoints needs one. Each run is short
// (2 s): an exec'd client outlives the cancelled exec, and pilot-agent serves one xDS client at a time, so a long
// leftover run would keep kicking the next client off its xDS stream.
func KeepCalling(ctx context.Context, m *Mesh, src string) (stop func()) {
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for cctx.Err() == nil {
			_, err := workload.Call(cctx, m.Clients[src], m.Namespace, m.Target(), 20, true)
			if err != nil {
				// A client that cannot run must not hammer the API server the checks need.
				select {
				case <-cctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// Endpoints fails unless the client in src has, from its istiod, an endpoint for the echo service in every other
// cluster in dsts: the remote pod IPs when on src's network; across networks, the remote east-west gateway
// (ip:15443) and none of the remote pod IPs. A proxyless client must be calling (KeepCalling) for istiod to hold
// its view.
func Endpoints(ctx context.Context, m *Mesh, src string, dsts []string) error {
	pod, err := workload.ClientPod(ctx, m.Clients[src], m.Namespace)
	if err != nil {
		return err
	}
	server := m.Istiod(src)
	eds, err := istiod.ProxyEndpoints(ctx, m.Clients[server], m.Revision(src), pod+"."+m.Namespace)
	if err != nil {
		return fmt.Errorf("%s's view from istiod in %s: %w", src, server, err)
	}
	var seen []string
	for name, eps := range eds {
		if strings.Contains(name, m.Host()) && strings.Contains(name, "|"+strconv.Itoa(int(m.Port))+"|") {
			seen = append(seen, eps...)
		}
	}
	slices.Sort(seen)
	inspect := append(inspectIstiod(server),
		fmt.Sprintf("curl istiod:15014/debug/edsz?proxyID=%s.%s (port-forward to istiod in %s)", pod, m.Namespace, server))
	// Addresses of pods on src's own network: with overlapping pod CIDRs (brought clusters often share 10.244/16) a
	// remote pod can have the address of a local one, which is not a leak.
	local := map[string]bool{}
	for _, n := range m.Names() {
		if m.SameNetwork(src, n) {
			pods, err := m.EchoPods(ctx, n)
			if err != nil {
				return err
			}
			for _, p := range pods {
				local[p] = true
			}
		}
	}
	if len(dsts) > 0 {
		if note := m.ClusterLocalNote(ctx, src); note != "" {
			f := fail(v1alpha1.AreaDiscovery, note, append(inspect, inspectMeshConfig(server)...),
				"the client in %s has only its own cluster's endpoints for %s (it has %v)", src, m.Host(), seen)
			f.Final = true // the mesh config says so: waiting does not change it
			return f
		}
	}
	for _, dst := range dsts {
		pods, err := m.EchoPods(ctx, dst)
		if err != nil {
			return err
		}
		if len(pods) == 0 {
			return fmt.Errorf("%s runs no Ready echo pod to discover", dst)
		}
		if m.SameNetwork(src, dst) {
			for _, p := range pods {
				if !slices.Contains(seen, p) {
					return fail(v1alpha1.AreaDiscovery, causeNoRemoteEndpoints, inspect,
						"the client in %s lacks %s's echo endpoint %s (it has %v)", src, dst, p, seen)
				}
			}
			continue
		}
		for _, p := range pods {
			if slices.Contains(seen, p) && !local[p] {
				return fail(v1alpha1.AreaDiscovery, causePodIPsAcrossNetworks, append(inspect,
					fmt.Sprintf("kubectl --context %s get ns istio-system --show-labels", dst),
					fmt.Sprintf("kubectl --context %s -n %s get pods -L topology.istio.io/network", dst, m.Namespace)),
					"the client in %s (network %s) got %s's pod IP %s (network %s) instead of its gateway", src,
					m.Network(src), dst, p, m.Network(dst))
			}
		}
		gw := m.GatewayAddress(dst, render.PortTLS)
		if m.State.Mesh.Clusters[dst].EastWestGateway == "" || !slices.Contains(seen, gw) {
			return fail(v1alpha1.AreaDiscovery, causeNoGatewayEndpoint, append(inspect,
				fmt.Sprintf("kubectl --context %s -n istio-system get svc %s --show-labels", dst, render.EastWestGatewayName)),
				"the client in %s has no endpoint %s (%s's east-west gateway) for %s (it has %v)", src, gw, dst,
				m.Host(), seen)
		}
	}
	return nil
}
