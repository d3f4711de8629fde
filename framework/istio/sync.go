package istio

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// clusterzFetcher returns one istiod pod's /debug/clusterz (istiod.Clusterz; tests fake it).
type clusterzFetcher func(ctx context.Context, c *kube.Client, pod string) ([]byte, error)

// sync waits until every running istiod of the primary reports every cluster of the topology synced.
func (r *run) sync(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	// istiod lists clusters by their Istio IDs: the names, unless a preinstalled mesh uses others.
	var want []string
	for _, tc := range r.t.Spec.Clusters {
		want = append(want, r.istioID(tc.Name))
	}
	rev := r.injection(name).Revision
	var problems map[string][]istiod.SyncProblem // by istiod pod
	err := kube.Poll(ctx, name+": istiod reports every cluster synced", 2*time.Second, r.opts.Timeouts.RemoteSync,
		func(ctx context.Context) (bool, string, error) {
			pods, err := istiod.RunningPods(ctx, c, rev)
			if err != nil {
				return false, err.Error(), nil
			}
			if len(pods) == 0 {
				return false, "no running istiod pod of revision " + rev, nil
			}
			problems = map[string][]istiod.SyncProblem{}
			var states []string
			for _, p := range pods {
				b, err := r.fetch(ctx, c, p.Name)
				if err != nil {
					states = append(states, p.Name+": "+err.Error())
					problems[p.Name] = nil
					continue
				}
				statuses, err := istiod.ParseClusterz(b)
				if err != nil {
					states = append(states, p.Name+": "+err.Error())
					continue
				}
				if ps := istiod.SyncProblems(statuses, want); len(ps) > 0 {
					problems[p.Name] = ps
					var s []string
					for _, pr := range ps {
						s = append(s, pr.String())
					}
					states = append(states, p.Name+": "+strings.Join(s, "; "))
				}
			}
			return len(states) == 0, strings.Join(states, " | "), nil
		})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w%s", err, r.diagnoseSync(ctx, name, problems))
	}
	r.logf(name, began, "istiod reports %s synced", strings.Join(want, ", "))
	return nil
}

// istioID is the ID Istio knows a topology cluster by (recorded by verify for preinstalled meshes).
func (r *run) istioID(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id := r.st.Mesh.Clusters[name].IstioClusterID; id != "" {
		return id
	}
	return name
}

// topologyName is the topology cluster Istio knows by id.
func (r *run) topologyName(id string) string {
	for _, tc := range r.t.Spec.Clusters {
		if r.istioID(tc.Name) == id {
			return tc.Name
		}
	}
	return id
}

// diagnoseSync names, for each cluster a primary's istiod does not report synced, the likely cause.
func (r *run) diagnoseSync(ctx context.Context, primary string, problems map[string][]istiod.SyncProblem) string {
	var sb strings.Builder
	seen := map[string]bool{}
	pods := make([]string, 0, len(problems))
	for p := range problems {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, pod := range pods {
		for _, pr := range problems[pod] {
			if seen[pr.Cluster] {
				continue
			}
			seen[pr.Cluster] = true
			server := "?"
			if name := r.topologyName(pr.Cluster); r.envs[name] != nil {
				if ep, err := r.apiEndpoint(name); err == nil {
					server = ep.Server
				}
			}
			switch {
			case pr.Cluster == r.istioID(primary):
				fmt.Fprintf(&sb, "\n  %s: istiod has not synced its own cluster (status %q): check istiod's log", primary, pr.Status)
			case pr.Status == "":
				fmt.Fprintf(&sb, "\n  %s: istiod in %s lists no cluster %s: it did not load Secret %s/%s%s (label %s=true); "+
					"check that the secret exists and holds a valid kubeconfig", pr.Cluster, primary, pr.Cluster, render.Namespace,
					RemoteSecretPrefix, pr.Cluster, MultiClusterLabel)
			default:
				fmt.Fprintf(&sb, "\n  %s: istiod in %s reports %q: it cannot finish reading %s's API server %s; check that "+
					"%s is reachable from %s's pods (isolated networks allow only API servers and LoadBalancer ranges "+
					"across networks), that the token of %s/%s in %s is valid, and that the server is not a loopback address",
					pr.Cluster, primary, pr.Status, pr.Cluster, server, serverHost(server), primary, render.Namespace, ReaderTokenSecret, pr.Cluster)
			}
			if line := istiod.LastError(ctx, r.clients[primary], pod, pr.Cluster); line != "" {
				fmt.Fprintf(&sb, "\n    last istiod error: %s", line)
			}
		}
	}
	return sb.String()
}
