// Package metallb installs MetalLB in L2 mode and gives a cluster its own address pool.
package metallb

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

const (
	Namespace = "metallb-system"
	// PoolName is the IPAddressPool (and L2Advertisement) meshconform creates.
	PoolName = "meshconform"
)

// Install applies MetalLB's native manifest, waits for the controller, speaker and webhook, and creates the
// cluster's pool and L2 advertisement, labelled as environment envName's. Re-running it is harmless.
func Install(ctx context.Context, c *kube.Client, envName, manifestPath string, first, last netip.Addr, timeout time.Duration) error {
	f, err := os.Open(manifestPath)
	if err != nil {
		return fmt.Errorf("%s: open MetalLB manifest: %w", c.Name, err)
	}
	defer f.Close()
	res := c.Klient.Resources()
	certs, err := webhookCerts(time.Now())
	if err != nil {
		return fmt.Errorf("%s: MetalLB webhook certificate: %w", c.Name, err)
	}
	create := decoder.CreateIgnoreAlreadyExists(res)
	fill := func(ctx context.Context, obj k8s.Object) error {
		if err := Adjust(obj, certs); err != nil {
			return err
		}
		return create(ctx, obj)
	}
	if err := decoder.DecodeEach(ctx, f, fill); err != nil {
		return fmt.Errorf("%s: apply MetalLB manifest: %w", c.Name, err)
	}
	if err := c.WaitDeploymentAvailable(ctx, Namespace, "controller", timeout); err != nil {
		return fmt.Errorf("MetalLB controller: %w", err)
	}
	if err := c.WaitDaemonSetReady(ctx, Namespace, "speaker", timeout); err != nil {
		return fmt.Errorf("MetalLB speaker: %w", err)
	}
	// The controller reports Available before its validating webhook serves; creating a pool is the only honest probe.
	for _, obj := range []*unstructured.Unstructured{Pool(envName, first, last), L2Advertisement(envName)} {
		err := kube.Poll(ctx, c.Name+": create MetalLB "+obj.GetKind()+" (webhook ready)", time.Second, timeout,
			func(ctx context.Context) (bool, string, error) {
				err := res.Create(ctx, obj.DeepCopy())
				if err == nil || apierrors.IsAlreadyExists(err) {
					return true, "", nil
				}
				return false, err.Error(), nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// Readiness probing of MetalLB's controller and speaker in our clusters: the manifest probes /metrics first after
// 10 s and then every 10 s, so a pod that serves after 11 s is Ready only at 20 s. Probed from 1 s every 2 s, Ready
// follows serving within 2 s. Liveness is left as shipped.
const (
	readinessDelaySeconds  = 1
	readinessPeriodSeconds = 2
)

// Adjust is what Install changes in MetalLB's manifest as it applies it (the decoder yields typed objects for the
// kinds client-go knows):
//   - the webhook Secret is created filled with certs: the manifest's is empty, MetalLB's cert rotator fills it after
//     the controller starts, and the kubelet refreshes the mounted copy only on its next volume sync (up to a minute
//     later), so the webhook served after 20 s in one round and 56 s in the next;
//   - the controller's and the speaker's readiness probes start after readinessDelaySeconds and repeat every
//     readinessPeriodSeconds (what they probe stays MetalLB's).
func Adjust(obj k8s.Object, certs map[string]string) error {
	var pod *corev1.PodSpec
	switch o := obj.(type) {
	case *corev1.Secret:
		if o.Name == WebhookSecret {
			o.StringData = certs
		}
		return nil
	case *appsv1.Deployment:
		pod = &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		pod = &o.Spec.Template.Spec
	case *unstructured.Unstructured:
		switch o.GetKind() {
		case "Secret", "Deployment", "DaemonSet":
			return fmt.Errorf("MetalLB manifest: %s %s decoded untyped: its adjustments would be lost", o.GetKind(), o.GetName())
		}
		return nil
	default:
		return nil
	}
	for i := range pod.Containers {
		if p := pod.Containers[i].ReadinessProbe; p != nil {
			p.InitialDelaySeconds, p.PeriodSeconds = readinessDelaySeconds, readinessPeriodSeconds
		}
	}
	return nil
}

// labels are environment envName's object labels (env.ObjectLabels), as unstructured wants them.
func labels(envName string) map[string]any {
	out := map[string]any{}
	for k, v := range env.ObjectLabels(envName) {
		out[k] = v
	}
	return out
}

// Pool is the IPAddressPool of one cluster.
func Pool(envName string, first, last netip.Addr) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1",
		"kind":       "IPAddressPool",
		"metadata":   map[string]any{"name": PoolName, "namespace": Namespace, "labels": labels(envName)},
		"spec":       map[string]any{"addresses": []any{first.String() + "-" + last.String()}},
	}}
	return u
}

// L2Advertisement announces the pool on the node network.
func L2Advertisement(envName string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1",
		"kind":       "L2Advertisement",
		"metadata":   map[string]any{"name": PoolName, "namespace": Namespace, "labels": labels(envName)},
		"spec":       map[string]any{"ipAddressPools": []any{PoolName}},
	}}
}
