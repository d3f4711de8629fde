package istio

import (
	"context"

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

// createOrUpdate creates want, or updates the existing object when its spec (compared by specOf) differs.
func createOrUpdate[T istioObject](ctx context.Context, c typedClient[T], want T, specOf func(T) proto.Message) error {
	have, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
		return err
	}
	if err != nil {
		return err
	}
	if proto.Equal(specOf(have), specOf(want)) {
		return nil
	}
	want.SetResourceVersion(have.GetResourceVersion())
	_, err = c.Update(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

// applyGateway creates or updates an Istio Gateway.
func applyGateway(ctx context.Context, ic istioclient.Interface, want *networkingv1.Gateway) error {
	return createOrUpdate(ctx, ic.NetworkingV1().Gateways(want.Namespace), want,
		func(g *networkingv1.Gateway) proto.Message { return &g.Spec })
}

// applyVirtualService creates or updates an Istio VirtualService.
func applyVirtualService(ctx context.Context, ic istioclient.Interface, want *networkingv1.VirtualService) error {
	return createOrUpdate(ctx, ic.NetworkingV1().VirtualServices(want.Namespace), want,
		func(v *networkingv1.VirtualService) proto.Message { return &v.Spec })
}
