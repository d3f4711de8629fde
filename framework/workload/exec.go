package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshconform/meshconform/fixtures/workload/wire"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/text"
)

// execFunc runs a command in a pod (kubeExec against a cluster), so tests can stand in for one.
type execFunc func(ctx context.Context, c *kube.Client, ns, pod, container string, cmd []string) (string, string, error)

func kubeExec(ctx context.Context, c *kube.Client, ns, pod, container string, cmd []string) (string, string, error) {
	return c.Exec(ctx, ns, pod, container, cmd)
}

// Tally, Warmup and ProbeResult are what the workload prints (`client --json`, `probe --json`); the one
// definition lives in fixtures/workload/wire, which the workload binary imports too.
type (
	Tally       = wire.Tally
	Warmup      = wire.Warmup
	ProbeResult = wire.ProbeResult
)

// ParseTally reads the tally from the client's stdout: the last line that is a JSON object.
func ParseTally(stdout string) (Tally, error) {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for _, l := range slices.Backward(lines) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var t Tally
		if err := json.Unmarshal([]byte(l), &t); err != nil {
			return Tally{}, fmt.Errorf("parse client tally %q: %w", l, err)
		}
		return t, nil
	}
	return Tally{}, fmt.Errorf("no JSON tally in client output %q", text.Tail(stdout, 500))
}

// ClientCommand is the command Call runs in the client pod.
func ClientCommand(target string, count int, xds bool) []string {
	cmd := []string{Binary, "client", "--target", target, "--count", strconv.Itoa(count), "--json"}
	if xds {
		cmd = append(cmd, "--xds")
	}
	return cmd
}

// Call sends count calls to target from the namespace's client pod (`workload client`) and returns the tally.
// Failed calls are not an error: the tally counts them and the caller judges. The error reports what kept the
// client from producing a tally (no ready client pod, exec failure, unreadable output) or a client that stopped
// early. For proxyless, target is xds:///<host>:<port> (Target) and xds selects xDS credentials, which mTLS needs.
func Call(ctx context.Context, c *kube.Client, ns, target string, count int, xds bool) (Tally, error) {
	return call(ctx, c, ns, CallSpec{Target: target, Count: count, XDS: xds}, kubeExec)
}

// CallSpec is one run of the client.
type CallSpec struct {
	Target string
	Count  int
	XDS    bool
	// WarmUpUntil lists groups the client calls (uncounted) until each has answered once, for at most
	// WarmUpTimeout; the counted calls follow. A group is a cluster, or several (AnyOf) of which any one answering
	// will do. The tally's Warmup says how it went.
	WarmUpUntil   []string
	WarmUpTimeout time.Duration
}

// Command is the client command line for the spec.
func (s CallSpec) Command() []string {
	cmd := ClientCommand(s.Target, s.Count, s.XDS)
	if len(s.WarmUpUntil) > 0 {
		cmd = append(cmd, "--warm-up-until", strings.Join(s.WarmUpUntil, ","))
		if s.WarmUpTimeout > 0 {
			cmd = append(cmd, "--warm-up-timeout", s.WarmUpTimeout.String())
		}
	}
	return cmd
}

// AnyOf is a warm-up group of clusters any one of which answering warms it up (a remote network behind east-west
// gateways, which pin each connection to one of its clusters).
func AnyOf(clusters ...string) string { return strings.Join(clusters, wire.AnyOf) }

// CallWith runs the client as spec says; see Call.
func CallWith(ctx context.Context, c *kube.Client, ns string, spec CallSpec) (Tally, error) {
	return call(ctx, c, ns, spec, kubeExec)
}

func call(ctx context.Context, c *kube.Client, ns string, spec CallSpec, exec execFunc) (Tally, error) {
	target, count := spec.Target, spec.Count
	pod, err := ClientPod(ctx, c, ns)
	if err != nil {
		return Tally{}, err
	}
	stdout, stderr, err := exec(ctx, c, ns, pod, ClientName, spec.Command())
	if err != nil {
		return Tally{}, err
	}
	t, err := ParseTally(stdout)
	if err != nil {
		return Tally{}, fmt.Errorf("%s: client %s/%s: %w (stderr: %s)", c.Name, ns, pod, err, text.Tail(stderr, 2000))
	}
	if t.Sent != count {
		return t, fmt.Errorf("%s: client %s/%s sent %d of %d calls to %s (stderr: %s)", c.Name, ns, pod, t.Sent,
			count, target, text.Tail(stderr, 2000))
	}
	return t, nil
}

// ClientPod is the name of a Running and Ready client pod in the namespace (the newest, if a rollout left several).
func ClientPod(ctx context.Context, c *kube.Client, ns string) (string, error) {
	pods, err := ReadyPods(ctx, c, ns, ClientName)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("%s: no Running and Ready client pod (app=%s) in %s: %s", c.Name, ClientName, ns,
			describePods(ctx, c, ns, labels.Set{AppLabel: ClientName}.String()))
	}
	return pods[0], nil
}

// ReadyPods names the Running, Ready and not terminating pods with label app=<app>, newest first.
func ReadyPods(ctx context.Context, c *kube.Client, ns, app string) ([]string, error) {
	list, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{AppLabel: app}.String()})
	if err != nil {
		return nil, fmt.Errorf("%s: list pods app=%s in %s: %w", c.Name, app, ns, err)
	}
	var ready []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && kube.PodReady(&p) {
			ready = append(ready, p)
		}
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	names := make([]string, len(ready))
	for i, p := range ready {
		names[i] = p.Name
	}
	return names, nil
}

// Probe opens one TCP connection to addr from the namespace's client pod (its probe container, outside any sidecar
// capture) and says whether it was accepted. The error is for what kept the probe from running, not for an
// unreachable address.
func Probe(ctx context.Context, c *kube.Client, ns, addr string, timeout time.Duration) (ProbeResult, error) {
	pod, err := ClientPod(ctx, c, ns)
	if err != nil {
		return ProbeResult{}, err
	}
	stdout, stderr, err := c.Exec(ctx, ns, pod, ProbeContainer, []string{Binary, "probe", "--addr", addr,
		"--timeout", timeout.String(), "--json"})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("%s: probe %s from %s/%s: %w (stderr: %s)", c.Name, addr, ns, pod, err, text.Tail(stderr, 500))
	}
	var r ProbeResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &r); err != nil {
		return ProbeResult{}, fmt.Errorf("%s: parse probe result %q: %w", c.Name, text.Tail(stdout, 300), err)
	}
	return r, nil
}
