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

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/install"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// Mesh is an environment brought up by MeshUp: its state, a client per cluster, and how to re-run its phases.
type Mesh struct {
	State    *env.State
	Clients  map[string]*kube.Client
	Topology *topology.Topology
	StateDir string
	Kit      *images.Kit
	Istio    istio.Options
}

// MeshUp provisions a built-in topology with the offline images, installs Istio and the workloads, and registers
// its removal. mesh chooses the installer (default istioctl) and data plane (default proxyless); the installer is
// resolved and checked before any cluster exists. It fails the current node on error.
func MeshUp(ctx context.Context, name string, mesh istio.Options) *Mesh {
	RequireDocker()
	RequireRoot("offline images (debootstrap) and isolated networking (iptables)")
	kit := Kit(ctx)
	t, err := topology.Builtin(name)
	if err != nil {
		Fail(err.Error())
	}
	if mesh.DataPlane == "" {
		mesh.DataPlane = env.DataPlaneProxyless
	}
	inst, resolved, err := installer.Resolve(ctx, kit, mesh.Options, GinkgoWriter)
	if err != nil {
		Fail(err.Error())
	}
	mesh.Options, mesh.Resolved = resolved, inst
	m := &Mesh{Topology: t, StateDir: GinkgoT().TempDir(), Kit: kit, Istio: mesh}
	DeferCleanup(func(ctx SpecContext) {
		if err := provision.Down(ctx, provision.DownOptions{StateDir: m.StateDir, Out: GinkgoWriter}); err != nil {
			Fail("down: " + err.Error())
		}
	}, NodeTimeout(3*time.Minute))
	began := time.Now()
	if err := m.Up(ctx); err != nil {
		Fail(err.Error())
	}
	GinkgoWriter.Printf("%s up with Istio and workloads in %s\n", name, time.Since(began).Round(time.Second))
	m.Clients = map[string]*kube.Client{}
	for _, c := range m.State.Clusters {
		kc, err := kube.New(c.Name, c.Access.Kubeconfig, "")
		if err != nil {
			Fail(err.Error())
		}
		m.Clients[c.Name] = kc
	}
	return m
}

// Up runs (or re-runs: every phase is idempotent) provisioning and installation, restoring what a test broke.
func (m *Mesh) Up(ctx context.Context) error {
	// The graph `meshconform up` runs: MetalLB starts while the mesh installs.
	// Prebuild as `up` does: the nodes start from the node image holding the mesh's images (images.NodeMeshImage).
	inf, err := provision.Start(ctx, m.Topology, provision.Options{StateDir: m.StateDir, Offline: true, Kit: m.Kit,
		Prebuild: install.Artifacts(m.Istio), Out: GinkgoWriter})
	if err != nil {
		return fmt.Errorf("provision %s: %w", m.Topology.Metadata.Name, err)
	}
	if err := install.OnInfra(ctx, m.Topology, inf, m.InstallOptions()); err != nil {
		return fmt.Errorf("up %s: %w", m.Topology.Metadata.Name, err)
	}
	m.State = inf.State
	return nil
}

// InstallOptions are the options Up installs with, for specs that install again.
func (m *Mesh) InstallOptions() install.Options {
	return install.Options{Kit: m.Kit, Out: GinkgoWriter, Istio: m.Istio}
}

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
