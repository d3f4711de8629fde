package istiod

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/text"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sync statuses istiod reports in /debug/clusterz (pkg/kube/multicluster).
const (
	SyncSynced  = "synced"
	SyncSyncing = "syncing"
	SyncTimeout = "timeout"
	SyncClosed  = "closed"
)

// ClusterStatus is one entry of istiod's /debug/clusterz (what `istioctl remote-clusters` prints).
type ClusterStatus struct {
	ID         string `json:"id"`
	SecretName string `json:"secretName"`
	SyncStatus string `json:"syncStatus"`
}

// ParseClusterz decodes istiod's /debug/clusterz.
func ParseClusterz(b []byte) ([]ClusterStatus, error) {
	var out []ClusterStatus
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("parse /debug/clusterz: %w (got %q)", err, text.Truncate(string(b), 200))
	}
	return out, nil
}

// SyncProblem is a cluster an istiod does not report synced.
type SyncProblem struct {
	Cluster string
	// Status is istiod's sync status, or "" when istiod does not list the cluster at all.
	Status string
	Secret string
}

func (p SyncProblem) String() string {
	if p.Status == "" {
		return p.Cluster + ": not listed (istiod loaded no remote secret for it)"
	}
	return p.Cluster + ": " + p.Status
}

// SyncProblems lists the clusters of want that statuses does not report synced, in want's order; none means all
// synced. Entries for clusters outside want (left-over secrets) are ignored.
func SyncProblems(statuses []ClusterStatus, want []string) []SyncProblem {
	byID := map[string]ClusterStatus{}
	for _, s := range statuses {
		// One cluster listed twice (two secrets naming it) counts as synced only when every entry is.
		if prev, ok := byID[s.ID]; ok && prev.SyncStatus != SyncSynced {
			continue
		}
		byID[s.ID] = s
	}
	var out []SyncProblem
	for _, c := range want {
		s, ok := byID[c]
		switch {
		case !ok:
			out = append(out, SyncProblem{Cluster: c})
		case s.SyncStatus != SyncSynced:
			out = append(out, SyncProblem{Cluster: c, Status: s.SyncStatus, Secret: s.SecretName})
		}
	}
	return out
}

// AllSynced reports whether every cluster of want is synced.
func AllSynced(statuses []ClusterStatus, want []string) bool {
	return len(SyncProblems(statuses, want)) == 0
}

// Clusterz fetches one istiod pod's /debug/clusterz through a port forward to istiod's monitoring port, as istioctl
// does. The API server's pod proxy does not do: istiod serves debug endpoints unauthenticated only to localhost, and a
// proxied request arrives from the API server without credentials istiod accepts (401).
func Clusterz(ctx context.Context, c *kube.Client, pod string) ([]byte, error) {
	return c.PortForwardGet(ctx, render.Namespace, pod, render.PortMonitoring, "debug/clusterz")
}

// RunningPods lists the running istiod pods of a primary's revision rev ("default" for the default revision; "" for
// every revision), by name.
func RunningPods(ctx context.Context, c *kube.Client, rev string) ([]corev1.Pod, error) {
	pods, err := c.Clientset.CoreV1().Pods(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod",
		FieldSelector: "status.phase=Running"})
	if err != nil {
		return nil, err
	}
	out := Running(pods.Items)
	if rev != "" {
		out = slices.DeleteFunc(out, func(p corev1.Pod) bool { return revisionOf(p.Labels) != rev })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Running keeps, in order, the pods that are running istiods: in istio-system, labelled app=istiod, phase Running
// and not being deleted.
func Running(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Namespace == render.Namespace && p.Labels["app"] == "istiod" && p.Status.Phase == corev1.PodRunning &&
			p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// LastError is the last line of istiod's log that mentions cluster together with an error, for diagnosis.
func LastError(ctx context.Context, c *kube.Client, pod, cluster string) string {
	lines := int64(3000)
	rc, err := c.Clientset.CoreV1().Pods(render.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: "discovery", TailLines: &lines}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 8<<20))
	if err != nil {
		return ""
	}
	return lastErrorLine(string(b), cluster)
}

// lastErrorLine finds the last log line naming cluster that reads like a failure.
func lastErrorLine(log, cluster string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if !strings.Contains(l, cluster) {
			continue
		}
		low := strings.ToLower(l)
		for _, w := range []string{"error", "fail", "timeout", "timed out", "unauthorized", "forbidden", "refused", "x509"} {
			if strings.Contains(low, w) {
				return text.Truncate(strings.TrimSpace(l), 400)
			}
		}
	}
	return ""
}

// ClusterStatuses asks a primary's istiod which clusters it knows and their sync status (what
// `istioctl remote-clusters` shows).
// rev is the istiod revision asked ("default" for the default one).
func ClusterStatuses(ctx context.Context, c *kube.Client, rev string) ([]ClusterStatus, error) {
	pods, err := RunningPods(ctx, c, rev)
	if err != nil {
		return nil, fmt.Errorf("%s: list istiod pods: %w", c.Name, err)
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("%s: no running istiod pod of revision %s in %s", c.Name, rev, render.Namespace)
	}
	b, err := Clusterz(ctx, c, pods[0].Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return ParseClusterz(b)
}

// ProxyEndpoints returns the endpoints istiod sends a connected proxy (or proxyless client) for each of its clusters,
// as "ip:port", keyed by xDS cluster name (e.g. "outbound|8080||echo.echo.svc.cluster.local"). proxyID is
// "<pod>.<namespace>"; rev the istiod revision it connects to. It reads istiod's /debug/edsz, i.e. what istiod computed for that proxy, including the
// translation of another network's endpoints into that network's gateway address.
func ProxyEndpoints(ctx context.Context, c *kube.Client, rev, proxyID string) (map[string][]string, error) {
	pods, err := RunningPods(ctx, c, rev)
	if err != nil {
		return nil, fmt.Errorf("%s: list istiod pods: %w", c.Name, err)
	}
	var lastErr error
	for _, p := range pods {
		b, err := c.PortForwardGet(ctx, render.Namespace, p.Name, render.PortMonitoring, "debug/edsz?proxyID="+proxyID)
		if err != nil {
			lastErr = err // the proxy may be connected to another istiod replica
			continue
		}
		return ParseEDS(b)
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no running istiod pod")
	}
	return nil, fmt.Errorf("%s: endpoints of proxy %s: %w", c.Name, proxyID, lastErr)
}

// ParseEDS reads an Envoy-style config dump of ClusterLoadAssignments.
func ParseEDS(b []byte) (map[string][]string, error) {
	var dump struct {
		Configs []struct {
			ClusterName string `json:"clusterName"`
			Endpoints   []struct {
				LbEndpoints []struct {
					Endpoint struct {
						Address struct {
							SocketAddress struct {
								Address   string `json:"address"`
								PortValue int    `json:"portValue"`
							} `json:"socketAddress"`
						} `json:"address"`
					} `json:"endpoint"`
				} `json:"lbEndpoints"`
			} `json:"endpoints"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(b, &dump); err != nil {
		return nil, fmt.Errorf("parse edsz: %w: %s", err, text.Truncate(string(b), 200))
	}
	out := map[string][]string{}
	for _, cfg := range dump.Configs {
		for _, loc := range cfg.Endpoints {
			for _, lb := range loc.LbEndpoints {
				sa := lb.Endpoint.Address.SocketAddress
				if sa.Address != "" {
					out[cfg.ClusterName] = append(out[cfg.ClusterName], net.JoinHostPort(sa.Address, strconv.Itoa(sa.PortValue)))
				}
			}
		}
	}
	return out, nil
}
