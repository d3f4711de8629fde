package istio

import (
	"context"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"google.golang.org/protobuf/proto"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fieldManager owns the fields meshconform applies.
const fieldManager = kube.FieldManager

// typedClient is what client-go's typed clients (Istio's included) offer for one resource kind.
type typedClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// istioObject is an Istio config object: Kubernetes metadata around a protobuf spec.
type istioObject interface {
	metav1.Object
	comparable
}

// createOrUpdate creates want, or updates the existing object when its spec (compared by specOf) or labels differ.
// An existing object the claimant may not overwrite is refused (env.Claimant.Check); labels others put on it are
// kept.
func createOrUpdate[T istioObject](ctx context.Context, c typedClient[T], claim env.Claimant, cluster, kind string, want T,
	specOf func(T) proto.Message) error {
	have, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
		return err
	}
	if err != nil {
		return err
	}
	if err := claim.Check(cluster, kind, have.GetNamespace(), have.GetName(), have.GetLabels()); err != nil {
		return err
	}
	if proto.Equal(specOf(have), specOf(want)) && hasLabels(have.GetLabels(), want.GetLabels()) {
		return nil
	}
	want.SetLabels(mergeMaps(have.GetLabels(), want.GetLabels()))
	want.SetResourceVersion(have.GetResourceVersion())
	_, err = c.Update(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

// applyGateway creates or updates an Istio Gateway in cluster.
func applyGateway(ctx context.Context, ic istioclient.Interface, claim env.Claimant, cluster string, want *networkingv1.Gateway) error {
	return createOrUpdate(ctx, ic.NetworkingV1().Gateways(want.Namespace), claim, cluster, kindGateway, want,
		func(g *networkingv1.Gateway) proto.Message { return &g.Spec })
}

// applyVirtualService creates or updates an Istio VirtualService in cluster.
func applyVirtualService(ctx context.Context, ic istioclient.Interface, claim env.Claimant, cluster string,
	want *networkingv1.VirtualService) error {
	return createOrUpdate(ctx, ic.NetworkingV1().VirtualServices(want.Namespace), claim, cluster, kindVirtualService, want,
		func(v *networkingv1.VirtualService) proto.Message { return &v.Spec })
}
