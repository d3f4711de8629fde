package istio

import (
	"context"
	"fmt"
	"time"

	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// verify checks a preinstalled cluster and records what it runs: its istiod revisions (or a remote's injectors),
// the one the test workloads will be injected by (--revision, else the default, else the only one) and its version.
func (r *run) verify(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	c := r.clients[name]
	tgt, err := r.discover(ctx, name, tc.IsPrimary())
	if err != nil {
		return err
	}
	version, err := r.inst.Verify(ctx, r.target(name), tc.IsPrimary(), tgt.Revision)
	if err != nil {
		return err
	}
	var rootFP, interFP, ewIP, istiodAddr string
	if cm, err := c.Clientset.CoreV1().ConfigMaps(render.Namespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{}); err == nil {
		rootFP, _ = trust.FingerprintPEM([]byte(cm.Data["root-cert.pem"]))
	}
	if tc.IsPrimary() {
		if s, err := c.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, trust.SecretName, metav1.GetOptions{}); err == nil {
			interFP, _ = trust.FingerprintPEM(s.Data[trust.CACertKey])
		}
	}
	if svc, err := c.Clientset.CoreV1().Services(render.Namespace).Get(ctx, render.EastWestGatewayName, metav1.GetOptions{}); err == nil {
		if ewIP, _, err = LoadBalancerIP(svc); err != nil {
			return err
		}
	}
	if tc.IsPrimary() && len(r.t.RemotesOf(name)) > 0 {
		istiodAddr = ewIP
		if svc, err := c.Clientset.CoreV1().Services(render.Namespace).Get(ctx, render.IstiodLBServiceName, metav1.GetOptions{}); err == nil {
			if ip, ok, _ := LoadBalancerIP(svc); ok {
				istiodAddr = ip
			}
		}
	}
	if tc.IsRemote() {
		istiodAddr = remoteIstiodAddress(ctx, c, render.IstiodName(tgt.Revision))
	}
	id, err := istiod.ClusterID(ctx, c, tc.IsPrimary(), tgt.Revision)
	if err != nil {
		return err
	}
	if id != "" && id != name {
		r.logf(name, began, "Istio knows this cluster as %q", id)
	}
	r.mu.Lock()
	mc := r.st.Mesh.Clusters[name]
	mc.IntermediateFingerprint, mc.EastWestGateway, mc.IstiodAddress = interFP, ewIP, istiodAddr
	if id != name {
		mc.IstioClusterID = id
	}
	r.st.Mesh.Clusters[name] = mc
	if rootFP != "" {
		if r.st.Mesh.RootFingerprint == "" {
			r.st.Mesh.RootFingerprint = rootFP
		} else if r.st.Mesh.RootFingerprint != rootFP {
			r.st.Mesh.Notes = append(r.st.Mesh.Notes, fmt.Sprintf("root certificates differ: %s distributes %s, another cluster %s",
				name, rootFP, r.st.Mesh.RootFingerprint))
		}
	}
	if version != "" && r.st.Mesh.IstioVersion == "" {
		r.st.Mesh.IstioVersion = version
	}
	r.mu.Unlock()
	if tc.IsPrimary() {
		r.logf(name, began, "preinstalled istiod revision %s %s found; test namespaces labelled %s", tgt.Revision, orUnknown(version), tgt)
	} else {
		r.logf(name, began, "preinstalled remote found, istiod at %s; test namespaces labelled %s", orUnknown(istiodAddr), tgt)
	}
	return nil
}

// remoteIstiodAddress is the address a remote's istiod Service (istiod[-<revision>]) leads to: its ExternalName, else
// its endpoint.
func remoteIstiodAddress(ctx context.Context, c *kube.Client, service string) string {
	svc, err := c.Clientset.CoreV1().Services(render.Namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if svc.Spec.ExternalName != "" {
		return svc.Spec.ExternalName
	}
	slices, err := c.Clientset.DiscoveryV1().EndpointSlices(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
	if err != nil {
		return ""
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if len(e.Addresses) > 0 {
				return e.Addresses[0]
			}
		}
	}
	return ""
}
