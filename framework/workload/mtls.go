package workload

import (
	"context"
	"fmt"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/kube"
)

// PeerAuthenticationName is the namespace-wide PeerAuthentication RequireMTLS applies (Istio's convention for a
// namespace's own policy).
const PeerAuthenticationName = "default"

// In multi-primary, policies go where they take effect: PeerAuthentication (what servers accept) in the server's
// cluster, DestinationRule (what clients send) in the client's cluster.

// RequireMTLS makes the namespace's servers accept only mutual TLS: a PeerAuthentication with mode STRICT, labelled
// as environment envName's, applied in every cluster that runs a server. Proxyless clients then need ClientMTLS in their cluster: they do not switch
// to mTLS by themselves ("error reading server preface: EOF" otherwise).
func RequireMTLS(ctx context.Context, c *kube.Client, envName, ns string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	want := strictPeerAuthentication(envName, ns)
	pas := ic.SecurityV1().PeerAuthentications(ns)
	have, err := pas.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = pas.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "create PeerAuthentication "+ns+"/"+want.Name, err)
	}
	if err != nil {
		return wrap(c, "get PeerAuthentication "+ns+"/"+want.Name, err)
	}
	have = have.DeepCopy()
	have.Labels = mergeLabels(have.Labels, want.Labels)
	have.Spec.Selector = nil
	have.Spec.Mtls = want.Spec.Mtls
	have.Spec.PortLevelMtls = nil
	_, err = pas.Update(ctx, have, metav1.UpdateOptions{})
	return wrap(c, "update PeerAuthentication "+ns+"/"+want.Name, err)
}

// RemoveRequireMTLS deletes RequireMTLS's policy; a missing one is not an error.
func RemoveRequireMTLS(ctx context.Context, c *kube.Client, ns string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	err = ic.SecurityV1().PeerAuthentications(ns).Delete(ctx, PeerAuthenticationName, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return wrap(c, "delete PeerAuthentication "+ns+"/"+PeerAuthenticationName, err)
}

// ClientMTLS makes clients in this cluster call host with Istio mutual TLS: a DestinationRule with TLS mode
// ISTIO_MUTUAL in namespace ns, labelled as environment envName's, e.g.
// ClientMTLS(ctx, c, st.Name, "echo", Host("echo", "echo")).
func ClientMTLS(ctx context.Context, c *kube.Client, envName, ns, host string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	want := mutualDestinationRule(envName, ns, host)
	drs := ic.NetworkingV1().DestinationRules(ns)
	have, err := drs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = drs.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "create DestinationRule "+ns+"/"+want.Name, err)
	}
	if err != nil {
		return wrap(c, "get DestinationRule "+ns+"/"+want.Name, err)
	}
	have = have.DeepCopy()
	have.Labels = mergeLabels(have.Labels, want.Labels)
	have.Spec.Host = want.Spec.Host
	have.Spec.TrafficPolicy = want.Spec.TrafficPolicy
	have.Spec.Subsets = nil
	have.Spec.ExportTo = nil
	have.Spec.WorkloadSelector = nil
	_, err = drs.Update(ctx, have, metav1.UpdateOptions{})
	return wrap(c, "update DestinationRule "+ns+"/"+want.Name, err)
}

// RemoveClientMTLS deletes ClientMTLS's rule for host; a missing one is not an error.
func RemoveClientMTLS(ctx context.Context, c *kube.Client, ns, host string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	name := DestinationRuleName(host)
	err = ic.NetworkingV1().DestinationRules(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return wrap(c, "delete DestinationRule "+ns+"/"+name, err)
}

// DestinationRuleName is the name of ClientMTLS's rule for a host: "mtls-" and the host with dots as dashes,
// at most 63 characters (a DNS label).
func DestinationRuleName(host string) string {
	name := "mtls-" + strings.ReplaceAll(strings.ToLower(strings.TrimSuffix(host, ".")), ".", "-")
	name = strings.ReplaceAll(name, "*", "wildcard")
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}

func strictPeerAuthentication(envName, ns string) *securityv1.PeerAuthentication {
	return &securityv1.PeerAuthentication{
		ObjectMeta: metav1.ObjectMeta{Name: PeerAuthenticationName, Namespace: ns, Labels: managed(envName)},
		Spec: securityapi.PeerAuthentication{
			Mtls: &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT},
		},
	}
}

func mutualDestinationRule(envName, ns, host string) *networkingv1.DestinationRule {
	return &networkingv1.DestinationRule{
		ObjectMeta: metav1.ObjectMeta{Name: DestinationRuleName(host), Namespace: ns, Labels: managed(envName)},
		Spec: networkingapi.DestinationRule{
			Host: host,
			TrafficPolicy: &networkingapi.TrafficPolicy{
				Tls: &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL},
			},
		},
	}
}

func mergeLabels(have, want map[string]string) map[string]string {
	out := make(map[string]string, len(have)+len(want))
	for k, v := range have {
		out[k] = v
	}
	for k, v := range want {
		out[k] = v
	}
	return out
}

// istioClientFor builds Istio's typed clientset; tests replace it.
var istioClientFor = func(c *kube.Client) (istioclient.Interface, error) {
	if c.Config == nil {
		return nil, fmt.Errorf("%s: no REST config for the Istio client", c.Name)
	}
	return istioclient.NewForConfig(c.Config)
}

func istioClient(c *kube.Client) (istioclient.Interface, error) {
	ic, err := istioClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("%s: Istio clientset: %w", c.Name, err)
	}
	return ic, nil
}
