package istio

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/trust"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kinds of the objects Install writes itself (the installer writes Istio's own).
const (
	kindSecret         = "Secret"
	kindService        = "Service"
	kindGateway        = "Gateway"
	kindVirtualService = "VirtualService"
)

// objectRef names an object Install writes in a cluster.
type objectRef struct {
	Cluster, Kind, Namespace, Name string
}

// plannedWrites lists, in plan order and without repeats, the objects the plan's steps write themselves and that may
// already exist: cacerts, remote secrets and the reader token secrets they carry, the cross-network and istiod
// Gateways, istiod's VirtualService and its LoadBalancer Service. istio-system is not one: Install adds its labels
// to an existing one without claiming it.
func plannedWrites(t *topology.Topology, stages [][]render.Step, expose env.IstiodExposure) []objectRef {
	var out []objectRef
	seen := map[objectRef]bool{}
	add := func(cluster, kind, name string) {
		o := objectRef{Cluster: cluster, Kind: kind, Namespace: render.Namespace, Name: name}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for _, stage := range stages {
		for _, s := range stage {
			switch s.Kind {
			case render.StepCACerts:
				add(s.Cluster, kindSecret, trust.SecretName)
			case render.StepEastWestGateway:
				if t.MultiNetwork() {
					add(s.Cluster, kindGateway, render.CrossNetworkGatewayName)
				}
				if tc, _ := t.Cluster(s.Cluster); tc.IsPrimary() && expose == env.ExposeGateway && len(t.RemotesOf(s.Cluster)) > 0 {
					add(s.Cluster, kindGateway, render.IstiodGatewayName)
					add(s.Cluster, kindVirtualService, render.IstiodVirtualServiceName)
				}
			case render.StepExposeIstiod:
				if expose == env.ExposeLoadBalancer {
					add(s.Cluster, kindService, render.IstiodLBServiceName)
				}
			case render.StepRemoteSecret:
				add(s.Cluster, kindSecret, RemoteSecretPrefix+s.Peer)
				add(s.Peer, kindSecret, ReaderTokenSecret)
			}
		}
	}
	return out
}

// checkOwnership refuses, naming every one, the existing objects among refs that this environment may not
// overwrite (env.Claimant.Check); it writes nothing.
func (r *run) checkOwnership(ctx context.Context, refs []objectRef) error {
	var errs []error
	for _, ref := range refs {
		if err := checkExisting(ctx, r.claim, ref, r.clients[ref.Cluster], r.istio[ref.Cluster]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkExisting is claim.Check of the object ref names, nil when there is none.
func checkExisting(ctx context.Context, claim env.Claimant, ref objectRef, c *kube.Client, ic istioclient.Interface) error {
	labels, found, err := existingLabels(ctx, ref, c, ic)
	if err != nil || !found {
		return err
	}
	return claim.Check(ref.Cluster, ref.Kind, ref.Namespace, ref.Name, labels)
}

// existingLabels reads the labels of the object ref names. An absent object, or an absent kind (Istio's CRDs before
// Istio is installed), is not found.
func existingLabels(ctx context.Context, ref objectRef, c *kube.Client, ic istioclient.Interface) (map[string]string, bool, error) {
	var (
		obj metav1.Object
		err error
	)
	get := metav1.GetOptions{}
	switch ref.Kind {
	case kindSecret:
		obj, err = c.Clientset.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, get)
	case kindService:
		obj, err = c.Clientset.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, get)
	case kindGateway:
		if ic == nil {
			return nil, false, nil
		}
		obj, err = ic.NetworkingV1().Gateways(ref.Namespace).Get(ctx, ref.Name, get)
	case kindVirtualService:
		if ic == nil {
			return nil, false, nil
		}
		obj, err = ic.NetworkingV1().VirtualServices(ref.Namespace).Get(ctx, ref.Name, get)
	default:
		return nil, false, fmt.Errorf("%s: no reader for kind %s", ref.Cluster, ref.Kind)
	}
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: get %s %s/%s: %w", ref.Cluster, ref.Kind, ref.Namespace, ref.Name, err)
	}
	return obj.GetLabels(), true, nil
}

// annotate prefixes an error with what failed, but leaves a refusal as it is: it names the object already.
func annotate(err error, format string, args ...any) error {
	var refused *env.RefusedError
	if err == nil || errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
