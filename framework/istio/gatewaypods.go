package istio

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gatewayPods judges the east-west gateway's pods; pods that cannot run are recorded, not fatal, for the proxyless
// data plane (no Envoy image exists here), and fatal for the sidecar data plane, whose traffic needs them.
func (r *run) gatewayPods(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	v, err := watchGatewayPods(ctx, c, r.opts.Timeouts.GatewayPods)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.GatewayReady, mc.GatewayCannotRun = v.Ready, false })
	if v.Ready {
		r.logf(name, began, "east-west gateway pods ready")
		return nil
	}
	why := gatewayImageVerdict(ctx, c)
	if r.opts.DataPlane == env.DataPlaneSidecar {
		return fmt.Errorf("%s: east-west gateway pods not ready after %s: %s%s", name, r.opts.Timeouts.GatewayPods, v.State, why)
	}
	r.noteGatewayCannotRun(name)
	verdict := "cannot run"
	if !v.CannotRun {
		verdict = "not ready after " + r.opts.Timeouts.GatewayPods.String()
	}
	r.logf(name, began, "east-west gateway pods %s (%s)%s: continuing without them; multi-network traffic specs will be skipped",
		verdict, v.State, why)
	return nil
}

// gatewayImageVerdict reads the gateway image's io.meshconform.envoy label from the local docker daemon (where kind
// loaded it from); empty when unknown.
func gatewayImageVerdict(ctx context.Context, c *kube.Client) string {
	pods, err := c.Clientset.CoreV1().Pods(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + render.EastWestGatewayName})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	for _, ctr := range pods.Items[0].Spec.Containers {
		if ctr.Name != "istio-proxy" {
			continue
		}
		labels, _ := images.LocalImageLabels(ctx, ctr.Image)
		if label := strings.TrimSpace(labels[images.EnvoyLabel]); label != "" {
			return "; image " + ctr.Image + " says Envoy is " + label
		}
	}
	return ""
}

// noteGatewayCannotRun records the fact in the cluster's mesh record (what the specs read) and the cluster in the
// one note about gateways that cannot run (what the report's reader reads).
func (r *run) noteGatewayCannotRun(cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mc := r.st.Mesh.Clusters[cluster]
	mc.GatewayCannotRun = true
	r.st.Mesh.Clusters[cluster] = mc
	r.noEnvoy = append(r.noEnvoy, cluster)
	sort.Strings(r.noEnvoy)
	note := NoteGatewayCannotRun + " (clusters: " + strings.Join(r.noEnvoy, ", ") + ")"
	notes := r.st.Mesh.Notes[:0]
	for _, n := range r.st.Mesh.Notes {
		if !strings.HasPrefix(n, NoteGatewayCannotRun) {
			notes = append(notes, n)
		}
	}
	r.st.Mesh.Notes = append(notes, note)
}

// GatewayPodsVerdict is what watching a gateway's pods concluded.
type GatewayPodsVerdict struct {
	Ready bool
	// CannotRun: the pods fail in a way that waiting does not fix (crash loop, container start errors).
	CannotRun bool
	// State describes the pods ("istio-eastwestgateway-x: Running (istio-proxy: CrashLoopBackOff)").
	State string
}

// judgeGatewayPods decides from the gateway's pods whether they are ready, cannot run, or may still come up.
func judgeGatewayPods(pods []corev1.Pod) GatewayPodsVerdict {
	if len(pods) == 0 {
		return GatewayPodsVerdict{State: "no pods"}
	}
	var states []string
	v := GatewayPodsVerdict{}
	for i := range pods {
		p := &pods[i]
		states = append(states, p.Name+": "+kube.PodState(p))
		if kube.PodReady(p) {
			v.Ready = true
		}
		if podCannotRun(p) {
			v.CannotRun = true
		}
	}
	v.State = strings.Join(states, ", ")
	if v.Ready {
		v.CannotRun = false
	}
	return v
}

// podCannotRun: a container crash-loops, exited with an error, or cannot be created or started.
func podCannotRun(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "CrashLoopBackOff", "RunContainerError", "CreateContainerError", "CreateContainerConfigError",
				"InvalidImageName", "ErrImageNeverPull":
				return true
			}
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return true
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 && cs.RestartCount > 0 {
			return true
		}
	}
	return false
}

// watchGatewayPods watches the east-west gateway's pods for at most timeout and returns the verdict: ready, cannot
// run (returned as soon as seen), or neither when time ran out.
func watchGatewayPods(ctx context.Context, c *kube.Client, timeout time.Duration) (GatewayPodsVerdict, error) {
	var v GatewayPodsVerdict
	sel := "app=" + render.EastWestGatewayName
	// A timeout is a verdict (neither ready nor known to be unable), not an error.
	_ = kube.Poll(ctx, c.Name+": east-west gateway pods", 2*time.Second, timeout, func(ctx context.Context) (bool, string, error) {
		pods, err := c.Clientset.CoreV1().Pods(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return false, err.Error(), nil
		}
		v = judgeGatewayPods(pods.Items)
		if len(pods.Items) == 0 {
			v.State = "no pods" + replicaFailure(ctx, c)
		}
		return v.Ready || v.CannotRun, v.State, nil
	})
	return v, ctx.Err()
}

// replicaFailure is the ReplicaFailure condition of the gateway's ReplicaSets (e.g. the injection webhook refused
// the pod), which explains a Deployment without pods.
func replicaFailure(ctx context.Context, c *kube.Client) string {
	rss, err := c.Clientset.AppsV1().ReplicaSets(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + render.EastWestGatewayName})
	if err != nil {
		return ""
	}
	for _, rs := range rss.Items {
		for _, cond := range rs.Status.Conditions {
			if cond.Type == "ReplicaFailure" && cond.Status == corev1.ConditionTrue {
				return " (" + cond.Reason + ": " + cond.Message + ")"
			}
		}
	}
	return ""
}
