//go:build e2e

// Package e2eutil holds what the e2e suites share: environment checks that skip with a reason, and the echo
// workload's pods and tallies.
package e2eutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/workload"
)

// RequireDocker skips the current spec (with the reason) when no docker daemon answers.
func RequireDocker() {
	out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		Skip("docker daemon not reachable (" + strings.TrimSpace(string(out)) + "): start dockerd, e.g. `sudo bash .ci/setup-machine`")
	}
}

// RequireRoot skips when not root: the image kit's debootstrap and isolated networking's iptables rules need it.
func RequireRoot(why string) {
	if os.Geteuid() != 0 {
		Skip("needs root: " + why)
	}
}

// Kit returns an image kit logging to GinkgoWriter, with everything named built.
func Kit(ctx context.Context, artifacts ...string) *images.Kit {
	kit, err := images.New(images.Options{Out: GinkgoWriter})
	if err != nil {
		Fail(err.Error())
	}
	if err := kit.Ensure(ctx, artifacts...); err != nil {
		Fail("build images: " + err.Error())
	}
	return kit
}

// EchoServer is a server pod plus the env the workload reports.
func EchoServer(ns, name, image, cluster, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "echo"}},
		Spec: corev1.PodSpec{
			NodeName:    node,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "echo", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args:  []string{"server", "--port", "8080"},
				Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8080}},
				Env: []corev1.EnvVar{
					{Name: "CLUSTER", Value: cluster},
					{Name: "VERSION", Value: "v1"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/healthz", Port: intstr.FromInt32(8081)}}, PeriodSeconds: 1},
			}},
		},
	}
}

// EchoService fronts the echo pods.
func EchoService(ns string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "grpc", Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
	}
}

// ClientPod runs the workload with args and exits.
func ClientPod(ns, name, image, node string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:    node,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:  []corev1.Container{{Name: "client", Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Args: args}},
		},
	}
}

// Call runs the echo client in a short-lived pod (no mesh needed) and parses its tally.
func Call(ctx context.Context, c *kube.Client, ns, name, image, node, target string, count int) (workload.Tally, error) {
	logs, err := c.RunPod(ctx, ClientPod(ns, name, image, node, "client", "--target", target,
		"--count", fmt.Sprint(count), "--json"), 2*time.Minute)
	if err != nil {
		return workload.Tally{}, err
	}
	return workload.ParseTally(logs)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Probe runs the workload's TCP probe in a pod: nil when addr accepted a connection.
func Probe(ctx context.Context, c *kube.Client, ns, name, image, node, addr string) (bool, string, error) {
	logs, err := c.RunPod(ctx, ClientPod(ns, name, image, node, "probe", "--addr", addr, "--timeout", "3s", "--json"), 2*time.Minute)
	if err != nil {
		return false, logs, err
	}
	var r struct {
		Reachable bool   `json:"reachable"`
		Error     string `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(lastLine(logs)), &r); jerr != nil {
		return false, logs, fmt.Errorf("parse probe result %q: %w", logs, jerr)
	}
	return r.Reachable, r.Error, nil
}
