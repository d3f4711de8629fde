package workload

import (
	"context"
	"fmt"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// PeerAuthenticationName is RequireMTLS's policy; legacyPeerAuthenticationName the namespace-wide one older
// versions applied (removed when it is meshconform's).
const (
	PeerAuthenticationName       = "meshconform-strict"
	legacyPeerAuthenticationName = "default"
)

// In multi-primary, policies go where they take effect: PeerAuthentication (what servers accept) in the server's
// cluster, DestinationRule (what clients send) in the client's cluster. Both select meshconform's own pods, so a
// user's namespace-wide or catch-all rules coexist with them (see coexist.go).

// RequireMTLS makes the namespace's echo servers accept only mutual TLS (RequireMTLSFor the default service).
func RequireMTLS(ctx context.Context, c *kube.Client, envName, ns string) error {
	return RequireMTLSFor(ctx, c, envName, ns, DefaultService, DefaultPort)
}

// RequireMTLSFor makes service's servers in ns accept only mutual TLS on port: a workload-level PeerAuthentication
// with mode STRICT selecting them, labelled as environment envName's, applied in every cluster that runs a server.
// It wins over namespace- and mesh-level policies; a workload-level policy that is not envName's and leaves the
// port other than STRICT would win over it, so then nothing is applied and a *ConflictError names it. Proxyless
// clients then need ClientMTLS in their cluster: they do not switch to mTLS by themselves ("error reading server
// preface: EOF" otherwise).
func RequireMTLSFor(ctx context.Context, c *kube.Client, envName, ns, service string, port int32) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	want := strictPeerAuthentication(envName, ns, service)
	ours := fmt.Sprintf("PeerAuthentication %s/%s (STRICT for the echo servers, selector %s)", ns, want.Name, labelString(want.Spec.Selector.MatchLabels))
	conflicts, _, err := peerAuthenticationConflicts(ctx, c, envName, ns, service, uint32(port))
	if err != nil {
		return err
	}
	pas := ic.SecurityV1().PeerAuthentications(ns)
	have, err := pas.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && !env.OwnerOf(have.Labels).Mine(envName) {
		conflicts = append(conflicts, Rule{Kind: "PeerAuthentication", Namespace: ns, Name: have.Name, Sets: describePeerAuthentication(have),
			Why: "has the name meshconform's policy uses and is " + env.OwnerOf(have.Labels).String() + ": left alone"})
	}
	if len(conflicts) > 0 {
		return &ConflictError{Cluster: c.Name, Ours: ours, Conflicts: conflicts}
	}
	if err := removeLegacyPeerAuthentication(ctx, c, ns); err != nil {
		return err
	}
	if apierrors.IsNotFound(err) {
		_, err = pas.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "create PeerAuthentication "+ns+"/"+want.Name, err)
	}
	if err != nil {
		return wrap(c, "get PeerAuthentication "+ns+"/"+want.Name, err)
	}
	have = have.DeepCopy()
	have.Labels = mergeLabels(have.Labels, want.Labels)
	have.Spec.Selector = want.Spec.Selector
	have.Spec.Mtls = want.Spec.Mtls
	have.Spec.PortLevelMtls = nil
	_, err = pas.Update(ctx, have, metav1.UpdateOptions{})
	return wrap(c, "update PeerAuthentication "+ns+"/"+want.Name, err)
}

// RemoveRequireMTLS deletes RequireMTLS's policy (and the namespace-wide one older versions applied) when
// meshconform made it; a missing one is not an error.
func RemoveRequireMTLS(ctx context.Context, c *kube.Client, ns string) error {
	if err := removeLegacyPeerAuthentication(ctx, c, ns); err != nil {
		return err
	}
	return deleteMeshconformPeerAuthentication(ctx, c, ns, PeerAuthenticationName)
}

func removeLegacyPeerAuthentication(ctx context.Context, c *kube.Client, ns string) error {
	return deleteMeshconformPeerAuthentication(ctx, c, ns, legacyPeerAuthenticationName)
}

// deleteMeshconformPeerAuthentication deletes ns/name if meshconform created it (a user's policy of that name is
// left alone).
func deleteMeshconformPeerAuthentication(ctx context.Context, c *kube.Client, ns, name string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	have, err := ic.SecurityV1().PeerAuthentications(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(c, "get PeerAuthentication "+ns+"/"+name, err)
	}
	if !env.OwnerOf(have.Labels).Meshconform {
		return nil
	}
	err = ic.SecurityV1().PeerAuthentications(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return wrap(c, "delete PeerAuthentication "+ns+"/"+name, err)
}

// ClientMTLS makes meshconform's clients in this cluster call host with Istio mutual TLS: a DestinationRule with
// TLS mode ISTIO_MUTUAL selecting the client pods (ClientSelector) in namespace ns, labelled as environment
// envName's, e.g. ClientMTLS(ctx, c, st.Name, "echo", Host("echo", "echo")). Selecting the client pods, it wins
// over catch-all rules for the host (whose top-level trafficPolicy Istio would otherwise keep from the oldest
// rule) and leaves them in force for every other workload; a rule that is not envName's and selects the client
// pods first would decide instead, so then nothing is applied and a *ConflictError names it.
func ClientMTLS(ctx context.Context, c *kube.Client, envName, ns, host string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	want := mutualDestinationRule(envName, ns, host)
	conflicts, _, err := destinationRuleConflicts(ctx, c, envName, ns, host, DefaultPort, networkingapi.ClientTLSSettings_ISTIO_MUTUAL)
	if err != nil {
		return err
	}
	drs := ic.NetworkingV1().DestinationRules(ns)
	have, err := drs.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && !env.OwnerOf(have.Labels).Mine(envName) {
		conflicts = append(conflicts, Rule{Kind: "DestinationRule", Namespace: ns, Name: have.Name, Sets: describeDestinationRule(have),
			Why: "has the name meshconform's rule uses and is " + env.OwnerOf(have.Labels).String() + ": left alone"})
	}
	if len(conflicts) > 0 {
		return &ConflictError{Cluster: c.Name, Ours: fmt.Sprintf("DestinationRule %s/%s (tls ISTIO_MUTUAL for %s, workloadSelector %s)",
			ns, want.Name, host, labelString(ClientSelector())), Conflicts: conflicts}
	}
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
	have.Spec.WorkloadSelector = want.Spec.WorkloadSelector
	_, err = drs.Update(ctx, have, metav1.UpdateOptions{})
	return wrap(c, "update DestinationRule "+ns+"/"+want.Name, err)
}

// RemoveClientMTLS deletes ClientMTLS's rule for host when meshconform made it; a missing one is not an error.
func RemoveClientMTLS(ctx context.Context, c *kube.Client, ns, host string) error {
	ic, err := istioClient(c)
	if err != nil {
		return err
	}
	name := DestinationRuleName(host)
	have, err := ic.NetworkingV1().DestinationRules(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(c, "get DestinationRule "+ns+"/"+name, err)
	}
	if !env.OwnerOf(have.Labels).Meshconform {
		return nil
	}
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

func strictPeerAuthentication(envName, ns, service string) *securityv1.PeerAuthentication {
	return &securityv1.PeerAuthentication{
		ObjectMeta: metav1.ObjectMeta{Name: PeerAuthenticationName, Namespace: ns, Labels: managed(envName)},
		Spec: securityapi.PeerAuthentication{
			Selector: &typeapi.WorkloadSelector{MatchLabels: ServerSelector(service)},
			Mtls:     &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT},
		},
	}
}

func mutualDestinationRule(envName, ns, host string) *networkingv1.DestinationRule {
	return &networkingv1.DestinationRule{
		ObjectMeta: metav1.ObjectMeta{Name: DestinationRuleName(host), Namespace: ns, Labels: managed(envName)},
		Spec: networkingapi.DestinationRule{
			Host:             host,
			WorkloadSelector: &typeapi.WorkloadSelector{MatchLabels: ClientSelector()},
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
