package checks

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// The install guide's verification ("Verify the installation"): helloworld v1 in cluster1, v2 in cluster2, the
// Service in every cluster, sleep everywhere, in namespace sample with sidecar injection, then curl
// helloworld.sample:5000/hello from sleep until both versions answer. Our objects, with the guide's names, ports
// and images.
const (
	HelloNamespace = "sample"
	HelloService   = "helloworld"
	HelloPort      = 5000
	SleepName      = "sleep"
)

// HelloImages are the images the guide's samples use; none is built here.
var HelloImages = map[string]string{
	"v1":    "docker.io/istio/examples-helloworld-v1:1.0",
	"v2":    "docker.io/istio/examples-helloworld-v2:1.0",
	"sleep": "curlimages/curl:8.16.0",
}

// DeployHelloWorld creates the guide's sample in every cluster: v1 in the first, v2 in the second.
func DeployHelloWorld(ctx context.Context, m *Mesh) error {
	for i, name := range m.Names() {
		cs := m.Clients[name].Clientset
		labels := env.ObjectLabels(m.State.Name)
		labels[workload.ManagedLabel] = "true"
		// The guide labels istio-injection=enabled; a revisioned mesh is labelled for the revision under test.
		inject, _ := workload.NamespaceLabels(m.Injection(name))
		maps.Copy(labels, inject)
		have, created, err := m.Clients[name].EnsureNamespaceWith(ctx, kube.Namespace{Name: HelloNamespace, CreateLabels: labels})
		if err != nil {
			return err
		}
		if o := env.OwnerOf(have.Labels); !created && !o.Mine(m.State.Name) && !o.Unnamed() {
			return fmt.Errorf("%s: namespace %s exists and is %s, not environment %q's: the guide's "+
				"sample would be mixed with what it holds; remove it, or skip this spec with --label-filter '!%s'",
				name, HelloNamespace, o, m.State.Name, v1alpha1.AreaDocFidelity.Label())
		}
		objs := []func() error{
			func() error {
				_, err := cs.CoreV1().Services(HelloNamespace).Create(ctx, owned(helloService(), m.State.Name), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.AppsV1().Deployments(HelloNamespace).Create(ctx, owned(sleepDeployment(), m.State.Name), metav1.CreateOptions{})
				return err
			},
		}
		if i < 2 {
			v := workload.VersionFor(i)
			objs = append(objs, func() error {
				_, err := cs.AppsV1().Deployments(HelloNamespace).Create(ctx, owned(helloDeployment(v), m.State.Name), metav1.CreateOptions{})
				return err
			})
		}
		for _, create := range objs {
			if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("%s: deploy the install guide's sample: %w", name, err)
			}
		}
	}
	return nil
}

// RemoveHelloWorld deletes the sample namespace (only if meshconform made it) in every cluster and waits until it
// is gone, so a next run can create it again.
func RemoveHelloWorld(ctx context.Context, m *Mesh) error {
	for _, name := range m.Names() {
		nss := m.Clients[name].Clientset.CoreV1().Namespaces()
		have, err := nss.Get(ctx, HelloNamespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: namespace %s: %w", name, HelloNamespace, err)
		}
		if o := env.OwnerOf(have.Labels); !o.Mine(m.State.Name) && !o.Unnamed() {
			continue // the user's, or another environment's
		}
		if err := nss.Delete(ctx, HelloNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: delete namespace %s: %w", name, HelloNamespace, err)
		}
		err = kube.Poll(ctx, "namespace "+HelloNamespace+" deleted in "+name, time.Second, 3*time.Minute,
			func(ctx context.Context) (bool, string, error) {
				_, err := nss.Get(ctx, HelloNamespace, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, "", nil
				}
				return false, "terminating", nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

var helloReply = regexp.MustCompile(`Hello version: (v\d+), instance: (\S+)`)

// HelloOnce is the guide's request: curl helloworld.sample:5000/hello from the sleep pod of src. It returns the
// version that answered.
func HelloOnce(ctx context.Context, m *Mesh, src string) (string, error) {
	pods, err := workload.ReadyPods(ctx, m.Clients[src], HelloNamespace, SleepName)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("%s: no Ready sleep pod in %s", src, HelloNamespace)
	}
	out, stderr, err := m.Clients[src].Exec(ctx, HelloNamespace, pods[0], SleepName,
		[]string{"curl", "-sS", "--max-time", "5", fmt.Sprintf("%s.%s:%d/hello", HelloService, HelloNamespace, HelloPort)})
	if err != nil {
		return "", fmt.Errorf("%s: curl from %s: %w: %s", src, pods[0], err, strings.TrimSpace(stderr))
	}
	mm := helloReply.FindStringSubmatch(out)
	if mm == nil {
		return "", fmt.Errorf("%s: unexpected reply %q", src, out)
	}
	return mm[1], nil
}

// HelloToggles fails unless repeated requests from src have been answered by every version in want (seen
// accumulates across calls, so a spec can retry until the toggle shows or its time runs out).
func HelloToggles(ctx context.Context, m *Mesh, src string, want []string, seen map[string]int) error {
	v, err := HelloOnce(ctx, m, src)
	if err != nil {
		return err
	}
	seen[v]++
	for _, w := range want {
		if seen[w] == 0 {
			return fail(v1alpha1.AreaDocFidelity, causeStaysLocal, inspectIstiod(m.Istiod(src)),
				"from %s, helloworld answered %v so far, never %s", src, seen, w)
		}
	}
	return nil
}

// owned adds environment envName's labels to an object's own labels (not to its selector or pods).
func owned[T metav1.Object](obj T, envName string) T {
	labels := maps.Clone(obj.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, env.ObjectLabels(envName))
	obj.SetLabels(labels)
	return obj
}

func helloService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: HelloService, Namespace: HelloNamespace,
			Labels: map[string]string{"app": HelloService, "service": HelloService}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": HelloService},
			Ports: []corev1.ServicePort{{Name: "http", Port: HelloPort, TargetPort: intstr.FromInt32(HelloPort)}}},
	}
}

func helloDeployment(version string) *appsv1.Deployment {
	labels := map[string]string{"app": HelloService, "version": version}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: HelloService + "-" + version, Namespace: HelloNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: HelloService, Image: HelloImages[version], ImagePullPolicy: corev1.PullIfNotPresent,
					Ports: []corev1.ContainerPort{{ContainerPort: HelloPort}},
				}}},
			},
		},
	}
}

func sleepDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": SleepName}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: SleepName, Namespace: HelloNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name: SleepName, Image: HelloImages["sleep"], ImagePullPolicy: corev1.PullIfNotPresent,
						Command: []string{"/bin/sleep", "infinity"},
					}}},
			},
		},
	}
}
