// Package artifacts dumps what is needed to diagnose a conformance run from EVERY cluster of the environment, not
// only the one whose spec failed: multicluster failures are usually caused on another cluster (the primary serving a
// remote, the network a gateway sits on).
//
// Layout, under the directory given to Collect (a report's artifacts/):
//
//	<cluster>/error.txt                        the cluster could not be reached (nothing else from its API)
//	<cluster>/errors.txt                       items that could not be collected, one per line
//	<cluster>/nodes.yaml
//	<cluster>/pods.txt                         one line per pod, all namespaces (like kubectl get pods -A -o wide)
//	<cluster>/pods.yaml                        every pod, in full
//	<cluster>/events.txt                       all namespaces, oldest first
//	<cluster>/services.yaml, endpointslices.yaml
//	<cluster>/logs/<ns>/<pod>/<container>[.previous].log    istio-system and the test namespaces
//	<cluster>/istiod/<pod>/<endpoint>.json     istiod's debug endpoints (clusterz, syncz, registryz, ...)
//	<cluster>/xds/<pod>.<ns>.config_dump.json  the xDS config istiod serves each proxy of the cluster (a remote's
//	                                           proxies are served by its primary's istiod)
//	<cluster>/kind/                            kind's node logs (provisioned clusters only)
//
// Secrets are never read. Private keys that show up in text anyway (a PEM block in a log or a debug dump, plain,
// truncated or base64-encoded) are replaced by a marker (redact.go). Every file is 0600 and every directory 0700,
// kind's node logs included (files.go).
package artifacts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/text"
	"github.com/meshconform/meshconform/framework/workload"
)

// Istio facts the dump needs, from the packages that define them.
const (
	IstioNamespace   = render.Namespace
	istiodSelector   = "app=istiod"
	istiodDebugPort  = render.PortMonitoring
	proxyContainer   = workload.ProxyContainer
	defaultTimeout   = 5 * time.Minute
	defaultTailLines = 20000
	maxLogBytes      = 16 << 20
	maxDebugBytes    = 64 << 20
	// maxProxies bounds the xDS dumps per cluster: each is a few MB and one istiod request.
	maxProxies = 30
	// logWorkers fetches logs of one cluster concurrently without flooding its API server.
	logWorkers = 4
)

// IstiodDebugPaths are the istiod debug endpoints dumped from every istiod pod: which clusters it reads and whether
// they synced, which proxies are connected and in sync, the services and endpoints it knows per cluster, the
// network gateways it computed, and the Istio config it holds.
var IstiodDebugPaths = []string{"clusterz", "syncz", "connections", "registryz", "endpointShardz", "networkz", "configz"}

// Options tune Collect. The function fields replace the real cluster access in unit tests.
type Options struct {
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Timeout bounds the whole collection (default 5m); what is not done by then is reported as an error.
	Timeout time.Duration
	// Namespaces whose logs and proxies are collected besides istio-system, the test workloads' namespace and any
	// namespace labelled meshconform.io/managed.
	Namespaces []string
	// TailLines caps each container log (default 20000 lines).
	TailLines int64
	// NewClient returns a client for a cluster of the state; default kube.New with the cluster's host kubeconfig.
	NewClient func(c env.Cluster) (*kube.Client, error)
	// Forward opens a connection to a pod port and returns the base URL to reach it; default a client-go port
	// forward. istiod serves its debug endpoints unauthenticated only to localhost, hence the forward.
	Forward func(ctx context.Context, c *kube.Client, ns, pod string, port int) (baseURL string, stop func(), err error)
	// KindLogs exports a kind cluster's node logs into dir; default kind's Provider.CollectLogs.
	KindLogs func(kindName, dir string) error
}

func (o *Options) defaults() {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.TailLines <= 0 {
		o.TailLines = defaultTailLines
	}
	if o.NewClient == nil {
		o.NewClient = func(c env.Cluster) (*kube.Client, error) {
			return kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
		}
	}
	if o.Forward == nil {
		o.Forward = func(ctx context.Context, c *kube.Client, ns, pod string, port int) (string, func(), error) {
			return c.PortForward(ctx, ns, pod, port)
		}
	}
	if o.KindLogs == nil {
		o.KindLogs = func(name, dir string) error { return clusters.NewProvider(io.Discard).CollectLogs(name, dir) }
	}
}

// target is one cluster to dump, with what the dump needs to know about its place in the mesh.
type target struct {
	cluster env.Cluster
	// known is false for a cluster recorded before it got a kubeconfig (nothing to connect with).
	known bool
	// server is the cluster whose istiod serves this cluster's proxies.
	server string
	client *kube.Client
	// clientErr is why no client could be made.
	clientErr error
}

// Collect dumps every cluster of the environment into dir/<cluster>/. It does not stop at the first problem: every
// item that fails is recorded in the cluster's errors.txt and in the returned error, and an unreachable cluster gets
// an error.txt while the others are still dumped.
func Collect(ctx context.Context, st *env.State, dir string, o Options) error {
	if st == nil {
		return errors.New("artifacts: no environment state")
	}
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := mkdirPrivate(dir); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	started := time.Now()
	out := &lockedWriter{w: o.Out}

	targets := targetsOf(st)
	byName := map[string]*target{}
	for _, t := range targets {
		byName[t.cluster.Name] = t
		if t.known {
			t.client, t.clientErr = o.NewClient(t.cluster)
		}
	}
	namespaces := logNamespaces(st, o.Namespaces)

	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &dumper{ctx: ctx, o: o, out: out, t: t, server: byName[t.server], namespaces: namespaces,
				dir: filepath.Join(dir, safeName(t.cluster.Name))}
			errs[i] = d.run()
		}()
	}
	wg.Wait()
	// Whatever an earlier collection into the same directory left, with whatever modes.
	if err := privatize(dir, false); err != nil {
		errs = append(errs, fmt.Errorf("artifacts: modes: %w", err))
	}
	err := errors.Join(errs...)
	out.printf("artifacts: %d cluster(s) dumped into %s in %s", len(targets), dir, time.Since(started).Round(time.Second))
	if err != nil {
		return fmt.Errorf("artifacts (collection continued past every error): %w", err)
	}
	return nil
}

// targetsOf lists every cluster the state records (provisioning records every topology cluster before it creates
// any), with the cluster whose istiod serves it.
func targetsOf(st *env.State) []*target {
	var out []*target
	for _, c := range st.Clusters {
		t := &target{cluster: c, known: c.Access.Kubeconfig != "", server: c.Name}
		if c.Role == env.RoleRemote && c.Primary != "" {
			t.server = c.Primary
		}
		out = append(out, t)
	}
	return out
}

// logNamespaces are the namespaces whose pods' logs and proxy configs are dumped (managed namespaces are added per
// cluster, from its namespace list).
func logNamespaces(st *env.State, extra []string) []string {
	ns := []string{IstioNamespace}
	test := workload.DefaultNamespace
	if st.Mesh != nil && st.Mesh.Workloads != nil && st.Mesh.Workloads.Namespace != "" {
		test = st.Mesh.Workloads.Namespace
	}
	ns = append(ns, test)
	ns = append(ns, extra...)
	return dedupe(ns)
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// dumper collects one cluster.
type dumper struct {
	ctx        context.Context
	o          Options
	out        *lockedWriter
	t          *target
	server     *target
	namespaces []string
	dir        string

	mu     sync.Mutex
	errs   []error
	counts map[string]int
}

func (d *dumper) name() string { return d.t.cluster.Name }

func (d *dumper) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs = append(d.errs, err)
}

func (d *dumper) count(what string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[what] += n
}

// write stores one file under the cluster's directory, scrubbing private keys; a failure is recorded, not returned.
func (d *dumper) write(rel string, b []byte) {
	p := filepath.Join(d.dir, rel)
	if err := mkdirPrivate(filepath.Dir(p)); err != nil {
		d.fail(fmt.Errorf("%s: %w", rel, err))
		return
	}
	if err := writePrivate(p, RedactPrivateKeys(b)); err != nil {
		d.fail(fmt.Errorf("%s: %w", rel, err))
	}
}

func (d *dumper) writeYAML(rel string, obj any) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		d.fail(fmt.Errorf("%s: encode: %w", rel, err))
		return
	}
	d.write(rel, b)
}

func (d *dumper) run() error {
	d.out.printf("artifacts: %s: collecting", d.name())
	if err := mkdirPrivate(d.dir); err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	if reason := d.unreachable(); reason != nil {
		msg := fmt.Sprintf("cluster %s could not be reached; nothing was collected from its API server.\n\n%v\n", d.name(), reason)
		if a := d.t.cluster.Access; a.Kubeconfig != "" {
			msg += fmt.Sprintf("\nkubeconfig: %s\ncontext: %s\n", a.Kubeconfig, a.Context)
		}
		d.write("error.txt", []byte(msg))
		d.fail(fmt.Errorf("unreachable: %w", reason))
		d.out.printf("artifacts: %s: UNREACHABLE: %v", d.name(), reason)
	} else {
		d.dumpAPI()
	}
	d.kindLogs()
	return d.finish()
}

// unreachable returns why the cluster's API cannot be used, or nil. It lists pods, the first thing needed anyway.
func (d *dumper) unreachable() error {
	switch {
	case !d.t.known:
		return errors.New("the environment has no kubeconfig for this cluster (it was never created or brought)")
	case d.t.clientErr != nil:
		return d.t.clientErr
	}
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	_, err := d.t.client.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	return nil
}

func (d *dumper) dumpAPI() {
	cs := d.t.client.Clientset
	ctx := d.ctx
	if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		d.fail(fmt.Errorf("nodes: %w", err))
	} else {
		d.writeYAML("nodes.yaml", listOf("v1", "NodeList", nodes.Items))
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		d.fail(fmt.Errorf("pods: %w", err))
		pods = &corev1.PodList{}
	} else {
		sort.Slice(pods.Items, func(i, j int) bool {
			a, b := pods.Items[i], pods.Items[j]
			return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
		})
		d.write("pods.txt", podTable(pods.Items, time.Now()))
		d.writeYAML("pods.yaml", listOf("v1", "PodList", pods.Items))
		d.count("pods", len(pods.Items))
	}
	if ev, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{}); err != nil {
		d.fail(fmt.Errorf("events: %w", err))
	} else {
		d.write("events.txt", eventTable(ev.Items))
		d.count("events", len(ev.Items))
	}
	if svcs, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
		d.fail(fmt.Errorf("services: %w", err))
	} else {
		d.writeYAML("services.yaml", listOf("v1", "ServiceList", svcs.Items))
	}
	if eps, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
		d.fail(fmt.Errorf("endpointslices: %w", err))
	} else {
		d.writeYAML("endpointslices.yaml", listOf("discovery.k8s.io/v1", "EndpointSliceList", eps.Items))
	}

	namespaces := d.namespaces
	if nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: workload.ManagedLabel}); err != nil {
		d.fail(fmt.Errorf("managed namespaces: %w", err))
	} else {
		for _, n := range nss.Items {
			namespaces = append(namespaces, n.Name)
		}
		namespaces = dedupe(namespaces)
	}
	inScope := map[string]bool{}
	for _, n := range namespaces {
		inScope[n] = true
	}
	var scoped []corev1.Pod
	for _, p := range pods.Items {
		if inScope[p.Namespace] {
			scoped = append(scoped, p)
		}
	}
	d.logs(scoped)
	d.istiod(pods.Items)
	d.xds(scoped)
}

// listOf gives a list its kind and drops managed fields, which are noise to a reader.
func listOf[T any](apiVersion, kind string, items []T) map[string]any {
	clean := make([]any, 0, len(items))
	for i := range items {
		if o, ok := any(&items[i]).(metav1.Object); ok {
			o.SetManagedFields(nil)
		}
		clean = append(clean, items[i])
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "items": clean}
}

// logs fetches every container's log of the given pods, and the previous instance's where a container restarted.
func (d *dumper) logs(pods []corev1.Pod) {
	type job struct {
		pod       *corev1.Pod
		container string
		previous  bool
	}
	var jobs []job
	for i := range pods {
		p := &pods[i]
		statuses := map[string]corev1.ContainerStatus{}
		for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			statuses[s.Name] = s
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			s, ok := statuses[c.Name]
			if reason, never := neverStarted(s, ok); never {
				// Nothing to fetch: say so in place of the log, rather than recording an API error.
				d.write(filepath.Join("logs", p.Namespace, p.Name, c.Name+".log"),
					[]byte("container has not started: "+reason+"\n"))
				continue
			}
			jobs = append(jobs, job{p, c.Name, false})
			if s.RestartCount > 0 {
				jobs = append(jobs, job{p, c.Name, true})
			}
		}
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range logWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				name := j.container + ".log"
				if j.previous {
					name = j.container + ".previous.log"
				}
				rel := filepath.Join("logs", j.pod.Namespace, j.pod.Name, name)
				b, err := d.containerLog(j.pod, j.container, j.previous)
				if err != nil {
					d.fail(fmt.Errorf("%s: %w", rel, err))
					continue
				}
				d.write(rel, b)
				d.count("logs", 1)
			}
		}()
	}
	for i, j := range jobs {
		if d.ctx.Err() != nil {
			d.fail(fmt.Errorf("logs: %d of %d not fetched: %w", len(jobs)-i, len(jobs), d.ctx.Err()))
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
}

func neverStarted(s corev1.ContainerStatus, ok bool) (string, bool) {
	if !ok {
		return "no status reported", true
	}
	if s.State.Waiting != nil && s.RestartCount == 0 && s.LastTerminationState.Terminated == nil {
		r := s.State.Waiting.Reason
		if s.State.Waiting.Message != "" {
			r += ": " + s.State.Waiting.Message
		}
		return r, true
	}
	return "", false
}

func (d *dumper) containerLog(p *corev1.Pod, container string, previous bool) ([]byte, error) {
	limit := int64(maxLogBytes)
	tail := d.o.TailLines
	rc, err := d.t.client.Clientset.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container: container, Previous: previous, TailLines: &tail, LimitBytes: &limit, Timestamps: true}).Stream(d.ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxLogBytes))
}

// istiod dumps the debug endpoints of every running istiod pod of this cluster.
func (d *dumper) istiod(pods []corev1.Pod) {
	for _, p := range istiod.Running(pods) {
		base, stop, err := d.o.Forward(d.ctx, d.t.client, p.Namespace, p.Name, istiodDebugPort)
		if err != nil {
			d.fail(fmt.Errorf("istiod %s: %w", p.Name, err))
			continue
		}
		for _, path := range IstiodDebugPaths {
			rel := filepath.Join("istiod", p.Name, path+".json")
			b, err := httpGet(d.ctx, base+"/debug/"+path)
			if err != nil {
				d.fail(fmt.Errorf("%s: %w", rel, err))
				continue
			}
			d.write(rel, b)
			d.count("istiod debug", 1)
		}
		stop()
	}
}

// xds dumps, for every proxy (a pod with an istio-proxy container) in scope, the config the serving istiod holds
// for it. A proxy is connected to one istiod replica only, so each replica is asked for the proxies still missing.
func (d *dumper) xds(pods []corev1.Pod) {
	var pending []string
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || !kube.HasContainer(&p, proxyContainer) {
			continue
		}
		pending = append(pending, p.Name+"."+p.Namespace)
	}
	if len(pending) == 0 {
		return
	}
	if len(pending) > maxProxies {
		d.fail(fmt.Errorf("xds: %d proxies, dumping the first %d", len(pending), maxProxies))
		pending = pending[:maxProxies]
	}
	srv := d.server
	if srv == nil || srv.client == nil {
		d.fail(fmt.Errorf("xds: no client for %s, the cluster whose istiod serves %s", d.t.server, d.name()))
		return
	}
	istiods, err := srv.client.Clientset.CoreV1().Pods(IstioNamespace).List(d.ctx, metav1.ListOptions{LabelSelector: istiodSelector})
	if err != nil {
		d.fail(fmt.Errorf("xds: list istiod pods of %s: %w", srv.cluster.Name, err))
		return
	}
	var index bytes.Buffer
	lastErr := map[string]error{}
	for _, ip := range istiod.Running(istiods.Items) {
		if len(pending) == 0 {
			break
		}
		base, stop, err := d.o.Forward(d.ctx, srv.client, ip.Namespace, ip.Name, istiodDebugPort)
		if err != nil {
			for _, id := range pending {
				lastErr[id] = fmt.Errorf("istiod %s/%s: %w", srv.cluster.Name, ip.Name, err)
			}
			continue
		}
		var still []string
		for _, id := range pending {
			b, err := httpGet(d.ctx, base+"/debug/config_dump?include_eds=true&proxyID="+id)
			if err != nil {
				lastErr[id] = fmt.Errorf("istiod %s/%s: %w", srv.cluster.Name, ip.Name, err)
				still = append(still, id)
				continue
			}
			d.write(filepath.Join("xds", id+".config_dump.json"), b)
			fmt.Fprintf(&index, "%s\tserved by %s/%s\n", id, srv.cluster.Name, ip.Name)
			d.count("xds dumps", 1)
		}
		stop()
		pending = still
	}
	for _, id := range pending {
		err := lastErr[id]
		if err == nil {
			err = fmt.Errorf("no running istiod in %s", srv.cluster.Name)
		}
		fmt.Fprintf(&index, "%s\tnot dumped: %v\n", id, err)
		d.fail(fmt.Errorf("xds %s: %w", id, err))
	}
	d.write(filepath.Join("xds", "index.txt"), index.Bytes())
}

// kindLogs exports kind's node logs of a provisioned cluster. kind's call takes no context, so on timeout it is
// left to finish in the background and the timeout is reported.
func (d *dumper) kindLogs() {
	c := d.t.cluster
	if !c.Provisioned || c.KindName == "" {
		return
	}
	done := make(chan error, 1)
	dir := filepath.Join(d.dir, "kind")
	go func() {
		err := d.o.KindLogs(c.KindName, dir)
		// kind writes with its own modes and its node logs are the nodes' journals: make them private and
		// redacted here, also when the collection's timeout has passed and this finishes in the background.
		if perr := privatize(dir, true); perr != nil && !errors.Is(perr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("modes and redaction: %w", perr))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			d.fail(fmt.Errorf("kind logs of %s: %w", c.KindName, err))
		} else {
			d.count("kind logs", 1)
		}
	case <-d.ctx.Done():
		d.fail(fmt.Errorf("kind logs of %s: %w", c.KindName, d.ctx.Err()))
	}
}

// finish writes errors.txt and reports the cluster's tally.
func (d *dumper) finish() error {
	d.mu.Lock()
	errs := slicesClone(d.errs)
	counts := d.counts
	d.mu.Unlock()
	var parts []string
	for _, k := range []string{"pods", "events", "logs", "istiod debug", "xds dumps", "kind logs"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	if len(errs) > 0 {
		var b strings.Builder
		for _, e := range errs {
			b.WriteString(e.Error() + "\n")
		}
		// Written directly: the errors list must not itself be subject to a recorded failure loop.
		_ = writePrivate(filepath.Join(d.dir, "errors.txt"), RedactPrivateKeys([]byte(b.String())))
		parts = append(parts, fmt.Sprintf("%d error(s), see %s", len(errs), filepath.Join(d.dir, "errors.txt")))
	}
	d.out.printf("artifacts: %s: %s", d.name(), strings.Join(parts, ", "))
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", d.name(), errors.Join(errs...))
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// httpGet reads a URL on a forwarded port; anything but 200 is an error carrying the start of the body.
func httpGet(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDebugBytes))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", req.URL.Path, resp.Status, text.Truncate(strings.TrimSpace(string(b)), 200))
	}
	return b, nil
}

// safeName keeps a cluster name usable as a directory name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
