package checks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// RotationPlan says whose credentials a rotation replaces: every primary's remote secret for Remote (they carry
// one reader token of Remote's, so they rotate together), while Source, a primary whose client reaches Remote's
// pods directly, calls across.
type RotationPlan struct {
	Remote    string
	Primaries []string
	Source    string
}

// PlanRotation picks the first cluster (topology order) that some other primary reads with a remote secret and
// whose echo service such a primary's client reaches (preferring one on its network); ok is false when there is
// none, or when the remote secrets are not the environment's (a preinstalled mesh's are its owner's).
func PlanRotation(m *Mesh) (RotationPlan, bool) {
	if m.State.Mesh == nil || m.State.Mesh.Installer == env.InstallerPreinstalled {
		return RotationPlan{}, false
	}
	for _, r := range m.Names() {
		p := RotationPlan{Remote: r}
		for _, c := range m.State.Clusters {
			if c.Role != topology.RolePrimary || c.Name == r {
				continue
			}
			p.Primaries = append(p.Primaries, c.Name)
			if !slices.Contains(m.Reachable(c.Name), r) {
				continue
			}
			// A caller on r's network sees r's pods themselves; one across networks, r's gateways.
			if p.Source == "" || (m.SameNetwork(c.Name, r) && !m.SameNetwork(p.Source, r)) {
				p.Source = c.Name
			}
		}
		if p.Source != "" {
			return p, true
		}
	}
	return RotationPlan{}, false
}

// Caller calls the echo service from one cluster continuously (batches of callerBatch calls) and sums the tallies.
type Caller struct {
	src    string
	stop   func()
	wg     sync.WaitGroup
	mu     sync.Mutex
	tally  workload.Tally
	errs   []string
	starts []time.Time
	fails  []time.Time
}

const callerBatch = 10

// CallContinuously starts calling from src until Stop. Stop lets the running batch finish rather than cancel it:
// an exec'd client outlives its cancelled exec, and pilot-agent serves one xDS client at a time, so a leftover
// client would kick the next caller's off its xDS stream ("xds: error received from xDS stream: EOF", measured
// when a second caller followed a cancelled one).
func CallContinuously(ctx context.Context, m *Mesh, src string) *Caller {
	cctx, cancel := context.WithCancel(ctx)
	stopping := make(chan struct{})
	c := &Caller{src: src, tally: workload.Tally{ByCluster: map[string]int{}, Errors: map[string]int{}}}
	var once sync.Once
	c.stop = func() { once.Do(func() { close(stopping) }) }
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		for cctx.Err() == nil {
			select {
			case <-stopping:
				return
			default:
			}
			began := time.Now()
			t, err := workload.Call(cctx, m.Clients[src], m.Namespace, m.Target(), callerBatch, true)
			if cctx.Err() != nil {
				return // a batch cut short by the caller's context is not counted
			}
			c.mu.Lock()
			c.starts = append(c.starts, began)
			if err != nil {
				c.errs = append(c.errs, err.Error())
			} else {
				c.tally.Sent += t.Sent
				c.tally.OK += t.OK
				for k, v := range t.ByCluster {
					c.tally.ByCluster[k] += v
				}
				for k, v := range t.Errors {
					c.tally.Errors[k] += v
				}
				if t.Failed() > 0 {
					c.fails = append(c.fails, began)
					if c.tally.FirstError == "" {
						c.tally.FirstError = t.FirstError
					}
				}
			}
			c.mu.Unlock()
			if err != nil {
				select {
				case <-cctx.Done():
				case <-stopping:
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return c
}

// Batches is how many batches have been counted so far.
func (c *Caller) Batches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.starts)
}

// Stop stops calling and returns the summed tally and the client runs that could not run at all.
func (c *Caller) Stop() (workload.Tally, []string) {
	c.stop()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tally, slices.Clone(c.errs)
}

// WaitBatches waits until n more batches have been counted (or ctx ends).
func (c *Caller) WaitBatches(ctx context.Context, n int, timeout time.Duration) error {
	want := c.Batches() + n
	deadline := time.Now().Add(timeout)
	for c.Batches() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("the client in %s ran %d of %d batches of calls in %s", c.src, c.Batches()-want+n, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// WriteRemoteSecrets writes, in every plan primary, the remote secret for plan.Remote carrying token (what `up`
// writes, with another token).
func WriteRemoteSecrets(ctx context.Context, m *Mesh, plan RotationPlan, token []byte) error {
	peer := m.State.Cluster(plan.Remote)
	if peer == nil {
		return fmt.Errorf("the environment has no cluster %s", plan.Remote)
	}
	claim := env.Claimant{Env: m.State.Name}
	for _, p := range plan.Primaries {
		s, err := istio.RemoteSecretWithToken(*peer, token, m.State.Name)
		if err != nil {
			return err
		}
		if _, err := istio.ApplyRemoteSecret(ctx, m.Clients[p], claim, s); err != nil {
			return err
		}
	}
	return nil
}

// causeRotation is the likely cause when a primary does not take up its rotated remote secret.
const causeRotation = "the replaced remote secret's credentials do not work: its token was revoked (or belongs to a " +
	"deleted service account), the kubeconfig names another server or CA, or the reader lacks RBAC; istiod keeps " +
	"serving the previous credentials' view only until the new ones sync or time out (PILOT_REMOTE_CLUSTER_TIMEOUT)"

// RemoteSyncedWithEndpoints waits (at most bound) until every plan primary's istiod reports every cluster synced
// and the client in plan.Source has, from its istiod, an endpoint for every echo pod of plan.Remote. It fails with
// a lifecycle diagnosis naming what is missing: istio#61043 saw clusterz say "synced" while endpoints were gone, so
// both are checked. A proxyless client holds its endpoints only while it calls: the caller must be running.
func RemoteSyncedWithEndpoints(ctx context.Context, m *Mesh, plan RotationPlan, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		err := remoteSyncedWithEndpoints(ctx, m, plan)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(2 * time.Second):
		}
	}
}

func remoteSyncedWithEndpoints(ctx context.Context, m *Mesh, plan RotationPlan) error {
	var ids []string
	for _, n := range m.Names() {
		ids = append(ids, m.IstioID(n))
	}
	for _, p := range plan.Primaries {
		statuses, err := istiod.ClusterStatuses(ctx, m.Clients[p], m.Revision(p))
		if err != nil {
			return fmt.Errorf("%s: istiod cluster status: %w", p, err)
		}
		if problems := istiod.SyncProblems(statuses, ids); len(problems) > 0 {
			var ps []string
			for _, pr := range problems {
				ps = append(ps, pr.String())
			}
			inspect := append(inspectIstiod(p), fmt.Sprintf("kubectl --context %s -n istio-system get secret %s%s -o yaml",
				p, istio.RemoteSecretPrefix, plan.Remote))
			return fail(v1alpha1.AreaLifecycle, causeRotation, inspect, "%s's istiod after the remote secret for %s changed: %s",
				p, plan.Remote, strings.Join(ps, "; "))
		}
	}
	// On plan.Remote's network its echo pods themselves; across networks the endpoints of its gateways (ip:15443).
	var want []string
	if m.SameNetwork(plan.Source, plan.Remote) {
		pods, err := m.EchoPods(ctx, plan.Remote)
		if err != nil {
			return err
		}
		want = pods
	} else if m.State.Mesh.Clusters[plan.Remote].EastWestGateway != "" {
		want = []string{m.GatewayAddress(plan.Remote, 15443)}
	}
	pod, err := workload.ClientPod(ctx, m.Clients[plan.Source], m.Namespace)
	if err != nil {
		return err
	}
	server := m.Istiod(plan.Source)
	eds, err := istiod.ProxyEndpoints(ctx, m.Clients[server], m.Revision(plan.Source), pod+"."+m.Namespace)
	if err != nil {
		return fmt.Errorf("%s's view from istiod in %s: %w", plan.Source, server, err)
	}
	seen := map[string]bool{}
	for name, eps := range eds {
		if strings.Contains(name, m.Host()) && strings.Contains(name, "|"+strconv.Itoa(int(m.Port))+"|") {
			for _, e := range eps {
				seen[e] = true
			}
		}
	}
	var missing []string
	for _, w := range want {
		if !seen[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fail(v1alpha1.AreaLifecycle, "istiod reports the cluster synced but does not hand out its endpoints "+
			"(istio#61043): the rotation dropped the old cluster's view before the new one had it, or the new "+
			"credentials cannot list EndpointSlices/Pods", append(inspectIstiod(server),
			fmt.Sprintf("curl istiod:15014/debug/edsz?proxyID=%s.%s (port-forward to istiod in %s)", pod, m.Namespace, server)),
			"the client in %s lacks %s's echo endpoints %v (it has %v)", plan.Source, plan.Remote, missing,
			slices.Sorted(maps.Keys(seen)))
	}
	return nil
}

// NoFailedCalls fails unless every call of a continuous caller succeeded and some reached plan.Remote.
func NoFailedCalls(plan RotationPlan, t workload.Tally, runErrs []string, during string) error {
	inspect := []string{fmt.Sprintf("kubectl --context %s -n istio-system logs deploy/istiod | grep -i %s", plan.Source, plan.Remote)}
	if t.Failed() > 0 {
		return fail(v1alpha1.AreaLifecycle, causeRotation, inspect, "%d of %d calls from %s failed %s (first error: %s; by cluster %v)",
			t.Failed(), t.Sent, plan.Source, during, t.FirstError, t.ByCluster)
	}
	if t.ByCluster[plan.Remote] == 0 {
		return fail(v1alpha1.AreaLifecycle, causeRotation, inspect, "none of the %d calls from %s %s reached %s (by cluster %v)",
			t.Sent, plan.Source, during, plan.Remote, t.ByCluster)
	}
	if len(runErrs) > 0 {
		return fmt.Errorf("the client in %s could not run %d times %s (first: %s)", plan.Source, len(runErrs), during, runErrs[0])
	}
	return nil
}

// RotateRemoteSecrets replaces every plan primary's remote secret for plan.Remote with one carrying a freshly minted
// token (token secret to) while plan.Source calls across, waits until every primary has taken it up (synced, with
// endpoints), revokes the old token (token secret from), keeps calling for a few more batches and checks that no
// call failed and the endpoints are still complete. It returns how long it took.
func RotateRemoteSecrets(ctx context.Context, m *Mesh, plan RotationPlan, from, to string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	claim := env.Claimant{Env: m.State.Name}
	caller := CallContinuously(ctx, m, plan.Source)
	stopped := false
	defer func() {
		if !stopped {
			caller.Stop()
		}
	}()
	if err := caller.WaitBatches(ctx, 2, bound); err != nil {
		return 0, err
	}
	token, err := istio.MintReaderToken(ctx, m.Clients[plan.Remote], claim, to, bound)
	if err != nil {
		return 0, err
	}
	if err := WriteRemoteSecrets(ctx, m, plan, token); err != nil {
		return 0, err
	}
	if err := RemoteSyncedWithEndpoints(ctx, m, plan, bound); err != nil {
		return 0, err
	}
	if err := istio.RevokeReaderToken(ctx, m.Clients[plan.Remote], claim, from); err != nil {
		return 0, err
	}
	// Calls keep flowing after the old token is gone: istiod must be watching with the new one.
	if err := caller.WaitBatches(ctx, 3, bound); err != nil {
		return 0, err
	}
	if err := RemoteSyncedWithEndpoints(ctx, m, plan, bound); err != nil {
		return 0, err
	}
	t, runErrs := caller.Stop()
	stopped = true
	return time.Since(start), NoFailedCalls(plan, t, runErrs, "while its remote secret for "+plan.Remote+" was rotated")
}

// BadSecret is a remote secret that cannot work, added next to the good ones.
type BadSecret struct {
	// ID is the cluster ID it claims (the secret is RemoteSecretPrefix+ID).
	ID string `json:"id"`
	// What is what is wrong with it.
	What string `json:"what"`
	// Status is what the primary's istiod reports for it afterwards ("" when it lists it not at all).
	Status string `json:"status"`
}

// Bad remote secrets: IDs that no real cluster has.
const (
	badUnreachable = "mc-bad-unreachable"
	badNoRBAC      = "mc-bad-no-rbac"
	badExecAuth    = "mc-bad-exec-auth"
	// noRBACAccount is the service account in the peer whose token the no-RBAC secret carries (bound to nothing).
	noRBACAccount = "meshconform-no-rbac"
)

// AddBadSecrets writes into primary three remote secrets that cannot work, all the environment's: one for an
// unreachable API server (192.0.2.1, TEST-NET-1: nothing answers), one with the real API server of peer but the
// token of a service account without RBAC, one whose kubeconfig authenticates with an exec plugin (istiod refuses
// those unless told otherwise). restore deletes them and the service account.
func AddBadSecrets(ctx context.Context, m *Mesh, primary, peer string, timeout time.Duration) (restore func(context.Context) error, bad []BadSecret, err error) {
	claim := env.Claimant{Env: m.State.Name}
	pc, rc := m.Clients[primary], m.Clients[peer]
	restore = func(ctx context.Context) error {
		var errs []error
		for _, id := range []string{badUnreachable, badNoRBAC, badExecAuth} {
			errs = append(errs, istio.DeleteRemoteSecret(ctx, pc, claim, id))
		}
		errs = append(errs, istio.DeleteServiceAccountToken(ctx, rc, claim, noRBACAccount))
		return errors.Join(errs...)
	}
	ep, err := istio.APIEndpointOf(*m.State.Cluster(peer))
	if err != nil {
		return restore, nil, err
	}
	write := func(id string, kubeconfig []byte) error {
		_, err := istio.ApplyRemoteSecret(ctx, pc, claim, istio.RemoteSecret(id, kubeconfig, m.State.Name))
		return err
	}
	unreachable, err := istio.RemoteKubeconfig(badUnreachable, istio.APIEndpoint{Server: "https://192.0.2.1:6443", CAData: ep.CAData},
		[]byte("not-a-token"))
	if err != nil {
		return restore, nil, err
	}
	if err := write(badUnreachable, unreachable); err != nil {
		return restore, nil, err
	}
	bad = append(bad, BadSecret{ID: badUnreachable, What: "API server https://192.0.2.1:6443 does not answer"})
	token, err := istio.ServiceAccountToken(ctx, rc, claim, noRBACAccount, timeout)
	if err != nil {
		return restore, bad, err
	}
	noRBAC, err := istio.RemoteKubeconfig(badNoRBAC, ep, token)
	if err != nil {
		return restore, bad, err
	}
	if err := write(badNoRBAC, noRBAC); err != nil {
		return restore, bad, err
	}
	bad = append(bad, BadSecret{ID: badNoRBAC, What: fmt.Sprintf("%s's real API server, the token of service account %s/%s, which no RBAC binds",
		peer, "istio-system", noRBACAccount)})
	exec, err := istio.ExecKubeconfig(badExecAuth, ep)
	if err != nil {
		return restore, bad, err
	}
	if err := write(badExecAuth, exec); err != nil {
		return restore, bad, err
	}
	bad = append(bad, BadSecret{ID: badExecAuth, What: "a kubeconfig authenticating with an exec plugin"})
	return restore, bad, nil
}

// causeBadSecretsStall: istiod waits for remote clusters before it is Ready.
const causeBadSecretsStall = "istiod waits for every remote cluster to sync before it reports Ready, and the bad " +
	"remote secrets never sync: PILOT_REMOTE_CLUSTER_TIMEOUT is 0 (or very long) on istiod, or this Istio " +
	"predates the timeout (istio TestBadRemoteSecret)"

// ReadyDespiteBadSecrets restarts primary's istiod (of the revision under test) and fails unless it becomes Ready
// within bound; then, while source calls across, every good cluster must be reported synced and plan.Source's
// endpoints complete (RemoteSyncedWithEndpoints), and none of the bad secrets' clusters may be reported synced.
// It fills in what istiod reports for each bad one.
func ReadyDespiteBadSecrets(ctx context.Context, m *Mesh, plan RotationPlan, primary string, bad []BadSecret, bound time.Duration) error {
	d, err := istiod.Deployment(ctx, m.Clients[primary], m.Revision(primary))
	if err != nil {
		return err
	}
	var ids []string
	for _, b := range bad {
		ids = append(ids, b.ID)
	}
	if err := m.Clients[primary].RolloutRestart(ctx, d.Namespace, d.Name, bound); err != nil {
		inspect := append(inspectIstiod(primary), fmt.Sprintf("kubectl --context %s -n %s get deploy %s -o yaml | grep -A1 PILOT_REMOTE_CLUSTER_TIMEOUT",
			primary, d.Namespace, d.Name))
		f := fail(v1alpha1.AreaLifecycle, causeBadSecretsStall, inspect, "%s's istiod did not become Ready within %s after a restart "+
			"with the bad remote secrets %s next to the good ones: %v", primary, bound, strings.Join(ids, ", "), err)
		f.Final = true
		return f
	}
	caller := CallContinuously(ctx, m, plan.Source)
	defer caller.Stop()
	if err := RemoteSyncedWithEndpoints(ctx, m, RotationPlan{Remote: plan.Remote, Primaries: []string{primary}, Source: plan.Source}, bound); err != nil {
		return err
	}
	statuses, err := istiod.ClusterStatuses(ctx, m.Clients[primary], m.Revision(primary))
	if err != nil {
		return fmt.Errorf("%s: istiod cluster status: %w", primary, err)
	}
	var synced []string
	for i := range bad {
		for _, s := range statuses {
			if s.ID == bad[i].ID {
				bad[i].Status = s.SyncStatus
			}
		}
		if bad[i].Status == "synced" {
			synced = append(synced, bad[i].ID)
		}
	}
	if len(synced) > 0 {
		return fail(v1alpha1.AreaLifecycle, "istiod reports clusters synced that it cannot have read", inspectIstiod(primary),
			"%s's istiod reports the bad remote secrets' clusters %s synced", primary, strings.Join(synced, ", "))
	}
	return nil
}

// RemoveRemoteSecrets deletes every plan primary's remote secret for plan.Remote and returns a restore that writes
// the same secrets back. Waiting for the effect is RemoteGone's.
func RemoveRemoteSecrets(ctx context.Context, m *Mesh, plan RotationPlan) (restore func(context.Context) error, err error) {
	claim := env.Claimant{Env: m.State.Name}
	saved := map[string][]byte{}
	var order []string
	restore = func(ctx context.Context) error {
		var errs []error
		for _, p := range order {
			s := istio.RemoteSecret(plan.Remote, saved[p], m.State.Name)
			_, err := istio.ApplyRemoteSecret(ctx, m.Clients[p], claim, s)
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	for _, p := range plan.Primaries {
		s, err := istio.GetRemoteSecret(ctx, m.Clients[p], plan.Remote)
		if err != nil {
			return restore, err
		}
		if s == nil {
			continue
		}
		saved[p] = s.Data[plan.Remote]
		order = append(order, p)
		if err := istio.DeleteRemoteSecret(ctx, m.Clients[p], claim, plan.Remote); err != nil {
			return restore, err
		}
	}
	return restore, nil
}

// RemoteGone waits (at most bound) until no plan primary's istiod lists plan.Remote any more and the client in
// plan.Source has none of its endpoints; the caller must be running.
func RemoteGone(ctx context.Context, m *Mesh, plan RotationPlan, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		err := remoteGone(ctx, m, plan)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(2 * time.Second):
		}
	}
}

func remoteGone(ctx context.Context, m *Mesh, plan RotationPlan) error {
	id := m.IstioID(plan.Remote)
	for _, p := range plan.Primaries {
		statuses, err := istiod.ClusterStatuses(ctx, m.Clients[p], m.Revision(p))
		if err != nil {
			return fmt.Errorf("%s: istiod cluster status: %w", p, err)
		}
		for _, s := range statuses {
			if s.ID == id {
				return fail(v1alpha1.AreaLifecycle, "istiod did not notice the deleted remote secret (its secret "+
					"controller watches istio-system for istio/multiCluster=true secrets)", inspectIstiod(p),
					"%s's istiod still lists %s (%s) after its remote secret was deleted", p, plan.Remote, s.SyncStatus)
			}
		}
	}
	pods, err := m.EchoPods(ctx, plan.Remote)
	if err != nil {
		return err
	}
	pod, err := workload.ClientPod(ctx, m.Clients[plan.Source], m.Namespace)
	if err != nil {
		return err
	}
	server := m.Istiod(plan.Source)
	eds, err := istiod.ProxyEndpoints(ctx, m.Clients[server], m.Revision(plan.Source), pod+"."+m.Namespace)
	if err != nil {
		return fmt.Errorf("%s's view from istiod in %s: %w", plan.Source, server, err)
	}
	var stale []string
	for name, eps := range eds {
		if strings.Contains(name, m.Host()) && strings.Contains(name, "|"+strconv.Itoa(int(m.Port))+"|") {
			for _, e := range eps {
				if slices.Contains(pods, e) {
					stale = append(stale, e)
				}
			}
		}
	}
	if len(stale) > 0 {
		return fail(v1alpha1.AreaLifecycle, "istiod keeps a removed cluster's endpoints: its remote cluster was not "+
			"stopped, or the client's view is stale", inspectIstiod(server),
			"the client in %s still has %s's echo endpoints %v after the remote secret was deleted", plan.Source, plan.Remote, stale)
	}
	return nil
}
