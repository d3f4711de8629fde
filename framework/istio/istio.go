// Package istio installs an Istio multicluster mesh into the clusters of an environment, the way Istio's
// multicluster install guide does it: a shared root with one intermediate CA per cluster (cacerts before istiod),
// istiod on primaries (meshID, clusterName, network), the remote profile on remotes pointing at their primary's
// exposed istiod, east-west gateways and the cross-network Gateway where the topology is multi-network, remote
// secrets written with client-go from in-network kubeconfigs, and readiness judged by istiod itself: every primary
// reports every cluster synced in /debug/clusterz.
//
// Its one job is the orchestration: Install runs render.Plan's stages with framework/steps, one file per stage
// (namespace.go, cacerts.go, controlplane.go, eastwest.go, expose.go, remote.go, remotesecret.go, webhook.go,
// gatewaypods.go, sync.go, verify.go). What it installs is rendered by framework/istio/render, installed by the
// installer the command resolved once (framework/istio/installer), and judged by reading istiod
// (framework/istio/istiod).
//
// Every step is idempotent (re-running `up` converges) and recorded in the environment file as it completes.
package istio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/timeouts"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/trust"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
)

// NoteGatewayCannotRun is the note recorded when east-west gateway pods cannot run.
const NoteGatewayCannotRun = "east-west gateway pods cannot run: the proxyv2 image has no Envoy; multi-network traffic specs will be skipped"

// Timeouts bound every wait of the installation but the installer's own (installer.Options.Timeout): IstiodReady,
// GatewayAddress, GatewayPods, ReaderToken and RemoteSync of framework/timeouts. Zero fields take the defaults.
type Timeouts = timeouts.Timeouts

// DefaultTimeouts and MaxTimeouts are framework/timeouts' defaults and maxima.
var (
	DefaultTimeouts = timeouts.Default
	MaxTimeouts     = timeouts.Max
)

// Options configure Install.
type Options struct {
	// Options name the installer and its tools (Installer, Istioctl, Helm, Charts): installer.Resolve's resolved
	// options, a record of what Resolved was made from.
	installer.Options
	// Resolved is the installer installer.Resolve made, once per command; Install uses it and makes none.
	Resolved installer.Installer
	// InstallerImages: Hub and Tag stay as given, empty meaning the installer's own defaults (a released istioctl's
	// images), never the kit's: a release's istioctl must not install another build's istiod.
	InstallerImages bool
	// Hub and Tag override Istio's images. Empty: the image kit's (meshconform.io/istio, images.IstioVersion) when the
	// environment runs offline images, else the installer's own default. Install does not load images: offline, the
	// caller loads images.PilotImage and images.ProxyV2Image into the kind nodes first.
	Hub, Tag string
	// DataPlane is proxyless (default) or sidecar.
	DataPlane env.DataPlane
	// Revision is the istiod revision to install (istioctl --revision, helm revision) or, preinstalled, the revision
	// or tag to test; the test namespaces are labelled istio.io/rev=<it>. Empty: the topology's spec.mesh.revision,
	// else the default revision (preinstalled: the default, else the only revision, else an error listing them).
	Revision string
	// ExposeIstiod is how remotes reach istiod: loadbalancer (default for proxyless: the east-west gateway needs
	// Envoy) or gateway (the install guide's way, default for sidecar).
	ExposeIstiod env.IstiodExposure
	// AdoptExistingSecrets lets Install take over the objects it writes (remote secrets, cacerts, the reader token,
	// istiod's Gateway, VirtualService and LoadBalancer Service) where one of that name exists that this
	// environment did not create: without it Install refuses before writing anything (env.AdoptFlag). Adopted
	// objects are labelled as the environment's own, and `down` deletes them.
	AdoptExistingSecrets bool
	// LoadBalancers, when set, blocks until a cluster serves LoadBalancer Services (provision.Infra.LoadBalancers:
	// MetalLB starts while Istio installs); the steps that create one call it first. Nil: they are served.
	LoadBalancers func(ctx context.Context, cluster string) error
	// Out receives one progress line per step.
	Out      io.Writer
	Timeouts Timeouts
}

func (o Options) withDefaults(st *env.State, t *topology.Topology) (Options, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Revision == "" {
		o.Revision = t.Spec.Mesh.Revision
	}
	if err := render.ValidateRevision("revision", o.Revision); err != nil {
		return o, err
	}
	if o.Installer == "" {
		o.Installer = env.InstallerIstioctl
	}
	if o.DataPlane == "" {
		o.DataPlane = env.DataPlaneProxyless
	}
	switch o.DataPlane {
	case env.DataPlaneProxyless, env.DataPlaneSidecar:
	default:
		return o, fmt.Errorf("unknown data plane %q: use proxyless or sidecar", o.DataPlane)
	}
	if o.ExposeIstiod == "" {
		o.ExposeIstiod = env.ExposeLoadBalancer
		if o.DataPlane == env.DataPlaneSidecar {
			o.ExposeIstiod = env.ExposeGateway
		}
	}
	switch o.ExposeIstiod {
	case env.ExposeLoadBalancer, env.ExposeGateway:
	default:
		return o, fmt.Errorf("unknown istiod exposure %q: use loadbalancer or gateway", o.ExposeIstiod)
	}
	if o.Installer != env.InstallerPreinstalled && !o.InstallerImages && o.Hub == "" && o.Tag == "" &&
		st.Images.Source == env.SourceOffline {
		o.Hub, o.Tag = images.IstioHub, images.IstioVersion
	}
	var err error
	o.Timeouts, err = o.Timeouts.WithDefaults()
	return o, err
}

// Install installs Istio into the environment's clusters as the topology t says and records the mesh in st.Mesh,
// saving st after every stage.
func Install(ctx context.Context, t *topology.Topology, st *env.State, opts Options) error {
	if st == nil || t == nil {
		return errors.New("install istio: no environment or no topology")
	}
	if st.Topology.Name != t.Metadata.Name {
		return fmt.Errorf("install istio: the environment is of topology %q, not %q", st.Topology.Name, t.Metadata.Name)
	}
	if err := env.ValidateName(st.Name); err != nil {
		return fmt.Errorf("install istio: the environment's name: %w", err)
	}
	if opts.Resolved == nil {
		return errors.New("install istio: no installer: resolve it first (installer.Resolve)")
	}
	opts, err := opts.withDefaults(st, t)
	if err != nil {
		return err
	}
	// Resolve left the image kit's istioctl unchecked: the kit builds it after Resolve.
	inst := opts.Resolved
	if err := inst.Check(); err != nil {
		return err
	}
	r := &run{st: st, t: t, opts: opts, inst: inst, start: time.Now(), fetch: istiod.Clusterz,
		claim:   env.Claimant{Env: st.Name, Adopt: opts.AdoptExistingSecrets},
		clients: map[string]*kube.Client{}, envs: map[string]*env.Cluster{}, tokens: map[string][]byte{}}
	r.steps = steps.New("istio", opts.Out, steps.WithSave(r.saveLocked))
	return r.install(ctx)
}

type run struct {
	st   *env.State
	t    *topology.Topology
	opts Options
	// claim is the environment writing, whose labels everything Install writes carries.
	claim env.Claimant
	inst  installer.Installer
	ca    *trust.CA
	start time.Time
	fetch clusterzFetcher
	steps *steps.Runner

	clients map[string]*kube.Client
	envs    map[string]*env.Cluster
	istio   map[string]istioclient.Interface

	mu      sync.Mutex // guards st, tokens and the gateway verdicts
	tokens  map[string][]byte
	noEnvoy []string // clusters whose gateway pods cannot run
}

func (r *run) install(ctx context.Context) error {
	version, err := r.inst.Version(ctx)
	if err != nil {
		return fmt.Errorf("%s version: %w", r.inst.Name(), err)
	}
	r.st.Mesh = &env.Mesh{
		Installer: r.inst.Name(), IstioVersion: version, Hub: r.opts.Hub, Tag: r.opts.Tag, Revision: r.opts.Revision,
		DataPlane: r.opts.DataPlane, ExposeIstiod: r.opts.ExposeIstiod, TrustDomain: r.t.Spec.Mesh.TrustDomain,
		Clusters: map[string]env.MeshCluster{},
	}
	if r.t.HasRemotes() && r.opts.ExposeIstiod == env.ExposeGateway && r.opts.DataPlane == env.DataPlaneProxyless {
		r.st.Mesh.Notes = append(r.st.Mesh.Notes, "istiod is exposed through the east-west gateway, which needs Envoy: "+
			"remote workloads reach istiod only where the gateway runs")
	}
	if err := r.connect(); err != nil {
		return err
	}
	stages := render.Plan(r.t, render.PlanOptions{ExposeIstiod: r.opts.ExposeIstiod, Preinstalled: r.inst.Name() == env.InstallerPreinstalled})
	// Before anything is written anywhere: every object Install would overwrite is this environment's.
	if err := r.checkOwnership(ctx, plannedWrites(r.t, stages, r.opts.ExposeIstiod)); err != nil {
		return err
	}
	if r.inst.Name() != env.InstallerPreinstalled {
		if r.ca, err = trust.LoadOrCreate(filepath.Join(r.st.Dir(), "trust")); err != nil {
			return err
		}
		r.st.Mesh.RootFingerprint = r.ca.RootFingerprint()
	}
	if err := r.save(); err != nil {
		return err
	}
	for _, stage := range stages {
		if err := r.runStage(ctx, stage); err != nil {
			return err
		}
	}
	if err := r.save(); err != nil {
		return err
	}
	r.logf("", r.start, "Istio %s (%s, %s data plane) is up in %d clusters", orUnknown(r.st.Mesh.IstioVersion),
		r.inst.Name(), r.opts.DataPlane, len(r.t.Spec.Clusters))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

// connect makes a client per topology cluster from its host kubeconfig.
func (r *run) connect() error {
	r.istio = map[string]istioclient.Interface{}
	for _, tc := range r.t.Spec.Clusters {
		var ec *env.Cluster
		for i := range r.st.Clusters {
			if r.st.Clusters[i].Name == tc.Name {
				ec = &r.st.Clusters[i]
			}
		}
		if ec == nil || ec.Access.Kubeconfig == "" {
			return fmt.Errorf("cluster %s of topology %s has no kubeconfig in the environment (%s): bring the clusters up first",
				tc.Name, r.t.Metadata.Name, r.st.Path())
		}
		c, err := kube.New(tc.Name, ec.Access.Kubeconfig, ec.Access.Context)
		if err != nil {
			return err
		}
		ic, err := istioclient.NewForConfig(c.Config)
		if err != nil {
			return fmt.Errorf("%s: istio client: %w", tc.Name, err)
		}
		r.clients[tc.Name], r.envs[tc.Name], r.istio[tc.Name] = c, ec, ic
	}
	return nil
}

func (r *run) target(name string) installer.Target {
	ec := r.envs[name]
	return installer.Target{Name: name, Kubeconfig: ec.Access.Kubeconfig, Context: ec.Access.Context, Client: r.clients[name]}
}

// runStage runs a stage's steps in parallel, saving the environment after each.
func (r *run) runStage(ctx context.Context, stage []render.Step) error {
	var ss []steps.Step
	for _, s := range stage {
		ss = append(ss, steps.Step{Name: s.String(), Run: func(ctx context.Context) error { return r.step(ctx, s) }})
	}
	return r.steps.Parallel(ctx, ss...)
}

func (r *run) step(ctx context.Context, s render.Step) error {
	switch s.Kind {
	case render.StepNamespace:
		return r.namespace(ctx, s.Cluster)
	case render.StepCACerts:
		return r.cacerts(ctx, s.Cluster)
	case render.StepControlPlane:
		return r.controlPlane(ctx, s.Cluster)
	case render.StepEastWestGateway:
		return r.eastWest(ctx, s.Cluster)
	case render.StepExposeIstiod:
		return r.exposeIstiod(ctx, s.Cluster)
	case render.StepRemote:
		return r.remote(ctx, s.Cluster)
	case render.StepRemoteSecret:
		return r.remoteSecret(ctx, s.Cluster, s.Peer)
	case render.StepRemoteWebhook:
		return r.remoteWebhook(ctx, s.Cluster)
	case render.StepGatewayPods:
		return r.gatewayPods(ctx, s.Cluster)
	case render.StepSync:
		return r.sync(ctx, s.Cluster)
	case render.StepVerify:
		return r.verify(ctx, s.Cluster)
	}
	return fmt.Errorf("unknown step %s", s)
}

// logf prints one progress line: the cluster, the message and how long the step took.
func (r *run) logf(cluster string, began time.Time, format string, args ...any) {
	prefix := ""
	if cluster != "" {
		prefix = cluster + ": "
	}
	r.steps.Logf("%s%s (%s)", prefix, fmt.Sprintf(format, args...), time.Since(began).Round(100*time.Millisecond))
}

// save writes the environment under the lock that guards it.
func (r *run) save() error { return r.steps.Save() }

func (r *run) saveLocked() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Save()
}

// mesh updates one cluster's record under the lock.
func (r *run) mesh(cluster string, fn func(*env.MeshCluster)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mc := r.st.Mesh.Clusters[cluster]
	fn(&mc)
	r.st.Mesh.Clusters[cluster] = mc
}

// injection is how a cluster's test workloads are injected (recorded by discover; the default before).
func (r *run) injection(cluster string) env.Injection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Mesh.InjectionOf(cluster)
}

func (r *run) meshCluster(cluster string) env.MeshCluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Mesh.Clusters[cluster]
}

// note records a note once.
func (r *run) note(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.st.Mesh.Notes {
		if have == n {
			return
		}
	}
	r.st.Mesh.Notes = append(r.st.Mesh.Notes, n)
}
