// Package provision brings a topology's infrastructure up and down: images, docker networks, kind clusters,
// cross-cluster reachability and MetalLB. Each phase is idempotent, timed, and recorded in the environment file
// before the next starts, so `up` can be re-run and `down` finds whatever an interrupted `up` made.
package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/metallb"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/timeouts"
	"github.com/meshconform/meshconform/framework/topology"
)

// Options configure Up.
type Options struct {
	StateDir string
	// Env is the environment's name (env.ResolveName); an existing environment file's own name wins.
	Env string
	// Offline forces the image kit's images even when registries are reachable.
	Offline bool
	Kit     *images.Kit
	// Prebuild are kit artifacts later phases need (the mesh's images): built in the images step, before any cluster
	// exists, so no cluster sits idle waiting on a cold build.
	Prebuild []string
	Out      io.Writer
	// Timeouts: NodesReady and MetalLB bound provisioning's waits (zero: the defaults).
	Timeouts timeouts.Timeouts
}

// Up provisions the topology and returns the environment once MetalLB is ready in every cluster (Start, then
// Infra.Wait). An environment of another topology must be down first.
func Up(ctx context.Context, t *topology.Topology, opts Options) (*env.State, error) {
	inf, err := Start(ctx, t, opts)
	if err != nil {
		return inf.State, err
	}
	return inf.State, inf.Wait()
}

// Start provisions the topology up to clusters that answer (images, networks, clusters, reachability, images loaded
// into the nodes) and then starts MetalLB in every cluster without waiting for it: what comes next (the mesh's
// images, istiod) does not need a LoadBalancer, and whatever does waits for its cluster with Infra.LoadBalancers.
// Infra.Wait joins MetalLB. On an error before MetalLB, Infra.State is what was made (nil only when no environment
// could be read or made).
func Start(ctx context.Context, t *topology.Topology, opts Options) (*Infra, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	inf := &Infra{}
	var err error
	if opts.Timeouts, err = opts.Timeouts.WithDefaults(); err != nil {
		return inf, err
	}
	st, err := env.Load(opts.StateDir)
	switch {
	case errors.Is(err, env.ErrNoEnvironment):
		name := opts.Env
		if name == "" {
			name = env.DefaultName(opts.StateDir)
		}
		if err := env.ValidateName(name); err != nil {
			return inf, fmt.Errorf("environment name: %w", err)
		}
		st = t.NewState(opts.StateDir, name)
	case err != nil:
		return inf, err
	case st.Topology.Name != t.Metadata.Name:
		return inf, fmt.Errorf("environment of topology %q is up (%s): run `meshconform down` before bringing up %q",
			st.Topology.Name, st.Path(), t.Metadata.Name)
	default:
		st.Topology = t.Record()
	}
	if errs := env.CheckKindNames(st.Name, clusterNames(t)); !t.BringYourOwn() && len(errs) > 0 {
		return inf, errors.Join(errs...)
	}
	inf.State = st
	// Every topology cluster is recorded with its place in the mesh before anything is made, in topology order.
	t.RecordClusters(st)
	p := &run{t: t, st: st, opts: opts}
	p.steps = steps.New("up", opts.Out, steps.WithSave(st.Save), steps.WithRecord(st.RecordPhase),
		steps.WithInterruptHint("; `meshconform down` removes what was made"))
	inf.p = p
	if t.BringYourOwn() {
		return inf, p.steps.Run(ctx, steps.Step{Name: "clusters (bring your own)", Run: p.bringYourOwn})
	}
	if err := p.steps.Run(ctx,
		steps.Step{Name: "images", Run: p.images},
		steps.Step{Name: "networks", Run: p.networks},
		steps.Step{Name: "clusters", Run: p.clusters},
		steps.Step{Name: "reachability", Run: p.reachability},
		steps.Step{Name: "load images", Run: p.loadImages},
		steps.Step{Name: "metallb pools", Run: func(context.Context) error { return AssignPools(st) }},
	); err != nil {
		return inf, err
	}
	inf.startMetalLB(ctx, p.metallbIn)
	return inf, nil
}

// Infra is an environment whose clusters answer while MetalLB may still be starting in them.
type Infra struct {
	// State is the environment. While MetalLB runs in the background nothing of it is written by Infra: the
	// caller owns it until Wait, which records the MetalLB phase and saves.
	State *env.State
	p     *run
	began time.Time
	ended time.Time
	// ready[cluster] is closed when that cluster's MetalLB is ready or failed (failed[cluster] then holds why).
	ready  map[string]chan struct{}
	failed map[string]error
	done   chan struct{}
	err    error
	mu     sync.Mutex // guards failed
	cancel context.CancelFunc
	// stopped: Stop ended MetalLB because what ran next failed.
	stopped atomic.Bool
}

// startMetalLB installs MetalLB in every cluster in the background. It reads the clusters' records (access and
// pool, both final by now) and writes none.
func (inf *Infra) startMetalLB(ctx context.Context, install func(context.Context, env.Cluster) error) {
	p := inf.p
	inf.began, inf.done = time.Now(), make(chan struct{})
	inf.ready, inf.failed = map[string]chan struct{}{}, map[string]error{}
	recs := make([]env.Cluster, len(p.st.Clusters))
	copy(recs, p.st.Clusters)
	for _, c := range recs {
		inf.ready[c.Name] = make(chan struct{})
	}
	p.logf("metallb ... (in the background: the mesh's images and istiod do not wait for it)")
	parent := ctx
	ctx, inf.cancel = context.WithCancel(parent)
	go func() {
		defer close(inf.done)
		errs := make([]error, len(recs))
		var wg sync.WaitGroup
		for i, c := range recs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := install(ctx, c); err != nil {
					errs[i] = fmt.Errorf("%s: %w", c.Name, err)
				}
				inf.mu.Lock()
				inf.failed[c.Name] = errs[i]
				inf.mu.Unlock()
				close(inf.ready[c.Name])
			}()
		}
		wg.Wait()
		inf.err, inf.ended = errors.Join(errs...), time.Now()
		took := inf.ended.Sub(inf.began).Round(time.Second)
		switch {
		case parent.Err() != nil:
			p.logf("metallb interrupted after %s; `meshconform down` removes what was made", took)
		case inf.stopped.Load():
			p.logf("metallb stopped after %s: what ran next failed", took)
		case inf.err != nil:
			p.logf("metallb failed after %s", took)
		default:
			p.logf("metallb done in %s", took)
		}
	}()
}

// LoadBalancers waits until MetalLB serves LoadBalancer Services in cluster (at once for a cluster meshconform did
// not provision, or when MetalLB is not started). An error wraps ErrMetalLB.
func (inf *Infra) LoadBalancers(ctx context.Context, cluster string) error {
	ch, ok := inf.ready[cluster]
	if !ok {
		return nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	inf.mu.Lock()
	defer inf.mu.Unlock()
	if err := inf.failed[cluster]; err != nil {
		return fmt.Errorf("%w: metallb %w", ErrMetalLB, err)
	}
	return nil
}

// ErrMetalLB marks a wait for LoadBalancers that ended because MetalLB failed in that cluster.
var ErrMetalLB = errors.New("MetalLB is not ready")

// Stop ends MetalLB's background work (what depended on it failed) and waits for it; nothing is recorded.
func (inf *Infra) Stop() {
	if inf.done == nil {
		return
	}
	inf.stopped.Store(true)
	inf.cancel()
	<-inf.done
}

// Wait joins MetalLB, records its phase, saves the environment and reports the infrastructure up. Call it once,
// when nothing else writes the environment.
func (inf *Infra) Wait() error {
	if inf.done == nil {
		return nil
	}
	<-inf.done
	defer inf.cancel()
	p := inf.p
	if inf.err == nil {
		p.st.RecordPhaseEnded("metallb", inf.ended.Sub(inf.began).Round(time.Millisecond), inf.ended)
	}
	if err := p.steps.Save(); err != nil {
		return errors.Join(inf.err, err)
	}
	if inf.err != nil {
		return fmt.Errorf("metallb: %w", inf.err)
	}
	p.logf("infrastructure of %s is up in %s; environment: %s", p.t.Metadata.Name, p.steps.Elapsed().Round(time.Second), p.st.Path())
	return nil
}

type run struct {
	t     *topology.Topology
	st    *env.State
	opts  Options
	steps *steps.Runner
}

func (p *run) logf(format string, args ...any) { p.steps.Logf(format, args...) }

// dockerNetworkOf names the docker network a mesh network runs on.
func (p *run) dockerNetworkOf(meshNetwork string) string {
	return DockerNetworkOf(p.t, p.st.Name, meshNetwork)
}

func clusterNames(t *topology.Topology) []string {
	var names []string
	for _, c := range t.Spec.Clusters {
		names = append(names, c.Name)
	}
	return names
}

func (p *run) images(ctx context.Context) error {
	e, err := engine(ctx)
	if err != nil {
		return err
	}
	p.st.Engine = e
	where := "the default socket or context"
	if e.Host != "" {
		where = e.Host
	}
	p.logf("engine: docker %s (%s)", e.Version, where)
	plan := images.Choose(ctx, p.opts.Offline).WithMesh(p.opts.Prebuild)
	p.st.Images = env.Images{Source: plan.Source, Reason: plan.Reason, NodeImage: plan.NodeImage, Loaded: plan.Load}
	p.logf("images: %s (%s)", plan.Source, plan.Reason)
	switch {
	case plan.Source == env.SourceUpstream:
		p.logf("node image %s (%s)", plan.NodeImage, images.UpstreamNodeNote)
	case !p.opts.Kit.UpToDate(ctx, "node"):
		p.logf("node image %s: not up to date; the image kit builds it from source (debootstrap, Kubernetes %s): "+
			"20-40 minutes from nothing, about a minute when only its assembly is due", plan.NodeImage, images.KubernetesVersion)
	}
	return p.opts.Kit.Prebuild(ctx, append(plan.Artifacts(), p.opts.Prebuild...)...)
}

func (p *run) networks(ctx context.Context) error {
	want := DockerNetworks(p.t, p.st.Name)
	// Choosing free subnets and creating the networks is one step for the whole machine: another environment
	// coming up at the same time would otherwise see the same /24s free.
	release, err := network.LockHost(ctx, func(msg string) { p.logf("%s", msg) })
	if err != nil {
		return err
	}
	defer release()
	used, err := network.UsedPrefixes(ctx)
	if err != nil {
		return err
	}
	free, err := network.PickSubnets(len(want), used)
	if err != nil {
		return err
	}
	for i, name := range want {
		n, err := network.Ensure(ctx, name, network.Owner{Env: p.st.Name, Topology: p.t.Metadata.Name}, free[i])
		if err != nil {
			return err
		}
		if _, ok := p.st.Network(name); !ok {
			p.st.Networks = append(p.st.Networks, env.Network(n))
		}
		p.logf("network %s: %s (bridge %s)", n.Name, n.Subnet, n.Bridge)
	}
	return nil
}

func (p *run) clusters(ctx context.Context) error {
	existing, err := clusters.List()
	if err != nil {
		return err
	}
	attached, err := clusters.Attachments(ctx)
	if err != nil {
		return err
	}
	var specs []clusters.Spec
	for _, c := range p.t.Spec.Clusters {
		rec := p.st.EnsureCluster(c.Name)
		rec.KindName = env.KindClusterName(p.st.Name, c.Name)
		rec.DockerNetwork = p.dockerNetworkOf(c.Network)
		rec.PodSubnet, rec.ServiceSubnet = c.PodSubnet, c.ServiceSubnet
		rec.Provisioned = true
		if slices.Contains(existing, rec.KindName) {
			// Kept only when it is on this environment's network: a look-alike is someone else's cluster.
			if !slices.Contains(attached[rec.KindName], rec.DockerNetwork) {
				return fmt.Errorf("kind cluster %s exists but is not on this environment's network %s: it is not this "+
					"environment's and is left alone; choose another environment name (--env) or remove that cluster yourself",
					rec.KindName, rec.DockerNetwork)
			}
			p.logf("cluster %s exists: kept", rec.KindName)
			continue
		}
		specs = append(specs, clusters.Spec{Name: rec.KindName, NodeImage: p.st.Images.NodeImage, Workers: c.Workers,
			PodSubnet: c.PodSubnet, ServiceSubnet: c.ServiceSubnet, Network: rec.DockerNetwork})
	}
	// Recorded before creation: an interrupted create still leaves `down` a complete list.
	if err := p.st.Save(); err != nil {
		return err
	}
	if err := clusters.Create(ctx, specs, clusters.Options{Out: p.steps.Writer()}); err != nil {
		return err
	}
	for i := range p.st.Clusters {
		rec := &p.st.Clusters[i]
		acc, err := clusters.WriteKubeconfigs(ctx, rec.KindName, rec.DockerNetwork, p.st.KubeconfigDir())
		if err != nil {
			return err
		}
		rec.Access = acc
		nodes, err := clusters.NewProvider(io.Discard).ListNodes(rec.KindName)
		if err != nil {
			return fmt.Errorf("list nodes of %s: %w", rec.KindName, err)
		}
		rec.Nodes, rec.NodeIPs = nil, nil
		for _, n := range nodes {
			ip, err := clusters.ContainerIP(ctx, n.String(), rec.DockerNetwork)
			if err != nil {
				return err
			}
			rec.Nodes = append(rec.Nodes, n.String())
			rec.NodeIPs = append(rec.NodeIPs, netip.MustParseAddr(ip))
		}
	}
	return nil
}

// reachability adds routes between the clusters of each mesh network (they share a docker network in both modes),
// cross-network allow rules (isolated), and in both modes drops from each cluster to the pod and service CIDRs of
// clusters on other mesh networks.
func (p *run) reachability(ctx context.Context) error {
	var addrs []network.ClusterAddrs
	for _, c := range p.st.Clusters {
		addrs = append(addrs, network.ClusterAddrs{MeshNetwork: c.Network, NodeIPs: c.NodeIPs,
			CIDRs: []netip.Prefix{netip.MustParsePrefix(c.PodSubnet), netip.MustParsePrefix(c.ServiceSubnet)}})
	}
	drops := network.IsolationDrops(addrs)
	var routes []network.Route
	for _, mn := range p.t.Networks() {
		nodes := map[string][]string{}
		cidrs := map[string][]netip.Prefix{}
		via := map[string]netip.Addr{}
		for _, c := range p.st.Clusters {
			if c.Network != mn {
				continue
			}
			nodes[c.Name] = c.Nodes
			cidrs[c.Name] = []netip.Prefix{netip.MustParsePrefix(c.PodSubnet), netip.MustParsePrefix(c.ServiceSubnet)}
			via[c.Name] = netip.MustParseAddr(c.Access.ControlPlaneIP)
		}
		routes = append(routes, network.PeerRoutes(nodes, cidrs, via)...)
	}
	if err := network.AddRoutes(ctx, routes); err != nil {
		return err
	}
	if p.t.Spec.Networking == topology.NetworkingIsolated {
		api := map[string][]netip.Addr{}
		for _, c := range p.st.Clusters {
			api[c.DockerNetwork] = append(api[c.DockerNetwork], netip.MustParseAddr(c.Access.ControlPlaneIP))
		}
		var nets []network.Network
		for _, n := range p.st.Networks {
			nets = append(nets, network.Network(n))
		}
		if err := p.checkDirectAccess(ctx); err != nil {
			return err
		}
		allows := network.IsolationAllows(nets, api)
		between := network.IsolationBridgeDrops(nets)
		p.logf("isolated: %d routes between clusters of the same mesh network, %d allow rules (LoadBalancer ranges and "+
			"API servers across networks), %d drop rules, %d drops of the rest between networks", len(routes), len(allows),
			len(drops), len(between))
		return network.Apply(ctx, network.EnvRuleTag(p.st.Name), allows, drops, between)
	}
	p.logf("bridged: %d routes between clusters of the same mesh network, %d drop rules across mesh networks", len(routes), len(drops))
	if len(drops) == 0 {
		return nil
	}
	return network.Apply(ctx, network.EnvRuleTag(p.st.Name), nil, drops, nil)
}

// checkDirectAccess refuses to go on when the engine drops traffic to our nodes from other networks in the raw table
// (Docker >= 28's direct access filtering, which our networks' gateway mode should have exempted them from): the
// allows below could never take effect, and the mesh would fail minutes later as if the API servers were down.
func (p *run) checkDirectAccess(ctx context.Context) error {
	var nodes []netip.Addr
	for _, c := range p.st.Clusters {
		nodes = append(nodes, c.NodeIPs...)
	}
	drops, err := network.DirectAccessDrops(ctx, nodes)
	if err != nil || len(drops) == 0 {
		return err
	}
	version := "?"
	if p.st.Engine != nil {
		version = p.st.Engine.Version
	}
	return fmt.Errorf("docker %s drops traffic to this environment's nodes from other networks (direct access "+
		"filtering: %s), although its networks set %s=nat-unprotected: isolated networking cannot let istiod reach "+
		"other networks' API servers. Inspect: iptables -t raw -S PREROUTING; docker network inspect %s. Use "+
		"--networking bridged, or an engine that honours the network's gateway mode",
		version, strings.Join(drops, "; "), network.GatewayModeOption, p.st.Networks[0].Name)
}

func (p *run) loadImages(ctx context.Context) error {
	if len(p.st.Images.Loaded) == 0 {
		return nil
	}
	var names []string
	for _, c := range p.st.Clusters {
		names = append(names, c.KindName)
	}
	_, err := clusters.LoadImagesInto(ctx, names, p.st.Images.Loaded...)
	return err
}

// metallbIn installs MetalLB in one cluster once its nodes are Ready.
func (p *run) metallbIn(ctx context.Context, c env.Cluster) error {
	kc, err := kube.New(c.Name, c.Access.Kubeconfig, "")
	if err != nil {
		return err
	}
	if err := kc.WaitNodesReady(ctx, len(c.Nodes), p.opts.Timeouts.NodesReady); err != nil {
		return err
	}
	if err := metallb.Install(ctx, kc, p.st.Name, p.opts.Kit.MetalLBManifest(), c.PoolFirst, c.PoolLast, p.opts.Timeouts.MetalLB); err != nil {
		return err
	}
	p.logf("[%s] MetalLB ready, pool %s-%s", c.Name, c.PoolFirst, c.PoolLast)
	return nil
}

func (p *run) bringYourOwn(ctx context.Context) error {
	p.st.Images = env.Images{Source: env.SourceNone, Reason: "bring-your-own clusters: nothing is provisioned"}
	for _, c := range p.t.Spec.Clusters {
		rec := p.st.EnsureCluster(c.Name)
		rec.Access = env.Access{Kubeconfig: c.Kubeconfig, Context: c.Context}
		kc, err := kube.New(c.Name, c.Kubeconfig, c.Context)
		if err != nil {
			return err
		}
		// Through the context, so Ctrl-C reaches a cluster that does not answer.
		if err := kc.Clientset.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("cluster %s (context %s in %s) is not reachable: %w", c.Name, c.Context, c.Kubeconfig, err)
		}
	}
	return nil
}
