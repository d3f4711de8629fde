package workload

import (
	"context"
	"fmt"

	networkingapi "istio.io/api/networking/v1alpha3"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// ClusterLabel is the endpoint label istiod gives every endpoint with its cluster ID: subsets can select on it
// without the pods carrying it.
const ClusterLabel = "topology.istio.io/cluster"

// RouteToClusterName names the DestinationRule and VirtualService RouteToCluster creates for host.
func RouteToClusterName(host string) string { return "meshconform-route-" + DestinationRuleName(host) }

// RouteToCluster routes every call to host to the endpoints of one cluster: a DestinationRule with one subset per
// cluster ID (selecting on ClusterLabel; subsets maps subset name to cluster ID) and a VirtualService sending all
// traffic to subset, both in namespace ns and labelled as environment envName's. The DestinationRule holds only
// subsets and selects the client pods like ClientMTLS's rule, so Istio merges the two (ClientMTLS's traffic policy,
// e.g. ISTIO_MUTUAL, still applies) and a user's catch-all rules for the host neither override it nor lose their
// effect elsewhere; a user's rule selecting the client pods would decide instead, so then nothing is applied and a
// *ConflictError names it. Remove with RemoveRouteToCluster.
func RouteToCluster(ctx context.Context, c *kube.Client, envName, ns, host string, subsets map[string]string, subset string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	name := RouteToClusterName(host)
	dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: managed(envName)}}
	dr.Spec.Host = host
	dr.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: ClientSelector()}
	for s, id := range subsets {
		dr.Spec.Subsets = append(dr.Spec.Subsets, &networkingapi.Subset{Name: s, Labels: map[string]string{ClusterLabel: id}})
	}
	vs := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: managed(envName)}}
	vs.Spec.Hosts = []string{host}
	vs.Spec.Http = []*networkingapi.HTTPRoute{{Route: []*networkingapi.HTTPRouteDestination{{
		Destination: &networkingapi.Destination{Host: host, Subset: subset}}}}}
	conflicts, _, err := destinationRuleConflicts(ctx, c, envName, ns, host, DefaultPort, networkingapi.ClientTLSSettings_DISABLE)
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return &ConflictError{Cluster: c.Name, Ours: fmt.Sprintf("DestinationRule %s/%s (subsets of %s for the client pods, workloadSelector %s)",
			ns, name, host, labelString(ClientSelector())), Conflicts: conflicts}
	}
	drs, vss := ic.NetworkingV1().DestinationRules(ns), ic.NetworkingV1().VirtualServices(ns)
	if err := refuseForeign(ctx, c, "DestinationRule", ns, name, func() (map[string]string, error) {
		o, err := drs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return o.Labels, nil
	}, envName); err != nil {
		return err
	}
	if err := refuseForeign(ctx, c, "VirtualService", ns, name, func() (map[string]string, error) {
		o, err := vss.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return o.Labels, nil
	}, envName); err != nil {
		return err
	}
	_ = drs.Delete(ctx, name, metav1.DeleteOptions{})
	_ = vss.Delete(ctx, name, metav1.DeleteOptions{})
	if _, err := drs.Create(ctx, dr, metav1.CreateOptions{}); err != nil {
		return wrap(c, "create DestinationRule "+ns+"/"+name, err)
	}
	_, err = vss.Create(ctx, vs, metav1.CreateOptions{})
	return wrap(c, "create VirtualService "+ns+"/"+name, err)
}

// refuseForeign fails when an object of that name exists and is not environment envName's.
func refuseForeign(ctx context.Context, c *kube.Client, kind, ns, name string, labels func() (map[string]string, error), envName string) error {
	l, err := labels()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(c, "get "+kind+" "+ns+"/"+name, err)
	}
	if o := env.OwnerOf(l); o.Env != envName {
		return fmt.Errorf("%s: %s %s/%s exists and is not environment %s's (labels %v): left alone", c.Name, kind, ns, name, envName, l)
	}
	return nil
}

// RemoveRouteToCluster deletes what RouteToCluster created (only if it is environment envName's).
func RemoveRouteToCluster(ctx context.Context, c *kube.Client, envName, ns, host string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	name := RouteToClusterName(host)
	if dr, err := ic.NetworkingV1().DestinationRules(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && env.OwnerOf(dr.Labels).Env == envName {
		if err := ic.NetworkingV1().DestinationRules(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(c, "delete DestinationRule "+ns+"/"+name, err)
		}
	}
	if vs, err := ic.NetworkingV1().VirtualServices(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && env.OwnerOf(vs.Labels).Env == envName {
		if err := ic.NetworkingV1().VirtualServices(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(c, "delete VirtualService "+ns+"/"+name, err)
		}
	}
	return nil
}
