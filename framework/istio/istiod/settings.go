package istiod

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
)

// Settings is what a cluster says about its place in the mesh, read from the cluster itself (not from what
// meshconform asked for): the mesh config istiod and the injector use, the network label, the cluster ID, the root
// it distributes, its istiod's version and revision, and what its injector injects.
type Settings struct {
	MeshID             string
	TrustDomain        string
	TrustDomainAliases []string
	Network            string
	ClusterID          string
	RootFingerprint    string
	// Version and Revision are the cluster's istiod's (primaries only): the version the running istiod reports (its
	// image tag when it cannot be asked) and its istio.io/rev ("default" for the default revision).
	Version  string
	Revision string
	// ProxyVersion is the tag of the proxy image the cluster's injector injects (its injector ConfigMap's
	// values.global.proxy.image or values.global.tag): the data plane version; "" when the cluster has no injector
	// config of its own or it names no tag (then the istiod's own version is injected).
	ProxyVersion string
	// Injector says, on a remote, what injects its pods: InjectorFromPrimary when its webhook calls a Service without
	// pods in the remote (the remote profile's Service for remotePilotAddress: its primary's istiod), else the local
	// istiod (InjectorVersion read here) or a URL (InjectorURL; whose it is, the comparison decides).
	Injector            string
	InjectorFromPrimary bool
	InjectorURL         string
	InjectorVersion     string
	// MeshConfigFrom names the cluster whose mesh config this one uses (a remote served by its primary's istiod), set
	// by the comparison, not read.
	MeshConfigFrom string
	// Missing lists what the cluster did not say (e.g. "mesh config"), so a comparison does not read absence as
	// agreement.
	Missing []string
}

// meshConfig is the part of Istio's MeshConfig (ConfigMap istio[-<rev>], key "mesh") the multicluster guide requires
// to agree across clusters.
type meshConfig struct {
	TrustDomain        string   `json:"trustDomain"`
	TrustDomainAliases []string `json:"trustDomainAliases"`
	DefaultConfig      struct {
		MeshID string `json:"meshId"`
	} `json:"defaultConfig"`
}

// ParseMeshConfig reads the mesh ID, trust domain and aliases of a MeshConfig document. Istio's defaults apply to
// what it leaves out: trust domain cluster.local, and the mesh ID defaults to the trust domain.
func ParseMeshConfig(doc string) (meshID, trustDomain string, aliases []string, err error) {
	var mc meshConfig
	if err := yaml.Unmarshal([]byte(doc), &mc); err != nil {
		return "", "", nil, fmt.Errorf("parse mesh config: %w", err)
	}
	trustDomain = mc.TrustDomain
	if trustDomain == "" {
		trustDomain = "cluster.local"
	}
	meshID = mc.DefaultConfig.MeshID
	if meshID == "" {
		meshID = trustDomain
	}
	return meshID, trustDomain, mc.TrustDomainAliases, nil
}

// ReadSettings reads a cluster's Settings for the revision rev under test ("" or "default" for the default one): its
// mesh config istio[-<rev>], and on a primary the istiod of that revision.
func ReadSettings(ctx context.Context, c *kube.Client, primary bool, rev string) (Settings, error) {
	if rev == "" {
		rev = render.DefaultRevision
	}
	var s Settings
	cs := c.Clientset
	cmName := render.MeshConfigName(rev)
	cm, err := cs.CoreV1().ConfigMaps(render.Namespace).Get(ctx, cmName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		s.Missing = append(s.Missing, "mesh config (ConfigMap "+render.Namespace+"/"+cmName+")")
	case err != nil:
		return s, fmt.Errorf("%s: get ConfigMap %s/%s: %w", c.Name, render.Namespace, cmName, err)
	default:
		if s.MeshID, s.TrustDomain, s.TrustDomainAliases, err = ParseMeshConfig(cm.Data["mesh"]); err != nil {
			return s, fmt.Errorf("%s: ConfigMap %s/%s: %w", c.Name, render.Namespace, cmName, err)
		}
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, render.Namespace, metav1.GetOptions{})
	if err != nil {
		return s, fmt.Errorf("%s: get namespace %s: %w", c.Name, render.Namespace, err)
	}
	s.Network = ns.Labels[render.NetworkLabel]
	if root, err := cs.CoreV1().ConfigMaps(render.Namespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{}); err == nil {
		s.RootFingerprint, _ = trust.FingerprintPEM([]byte(root.Data["root-cert.pem"]))
	}
	if s.RootFingerprint == "" {
		s.Missing = append(s.Missing, "root certificate (ConfigMap "+render.Namespace+"/istio-ca-root-cert)")
	}
	if s.ClusterID, err = ClusterID(ctx, c, primary, rev); err != nil {
		return s, err
	}
	if s.ProxyVersion, err = injectedProxyTag(ctx, c, rev); err != nil {
		return s, err
	}
	if primary {
		d, err := Deployment(ctx, c, rev)
		if err != nil {
			return s, err
		}
		s.Revision = revisionOf(d.Labels)
		if s.Version = RunningVersion(ctx, c, rev); s.Version == "" {
			s.Version = discoveryTag(d)
		}
		if s.Version == "" {
			s.Missing = append(s.Missing, "istiod version (no running istiod answered, no image tag)")
		}
		return s, nil
	}
	return s, readInjector(ctx, c, rev, &s)
}

// readInjector finds what injects a remote's pods for revision rev: the Service or URL its webhook calls, and, when
// that Service selects pods in the remote (a local injector istiod), their version.
func readInjector(ctx context.Context, c *kube.Client, rev string, s *Settings) error {
	revs, err := ReadRevisions(ctx, c)
	if err != nil {
		return err
	}
	in, ok := revs.Injector(rev)
	if !ok {
		s.Missing = append(s.Missing, "injector (no injection webhook for revision "+rev+")")
		return nil
	}
	if in.URL != "" {
		s.Injector, s.InjectorURL = in.Name+" → "+in.URL, in.URL
		return nil
	}
	ns, name, _ := strings.Cut(in.Service, "/")
	svc, err := c.Clientset.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		s.Missing = append(s.Missing, "injector (Service "+in.Service+" its webhook "+in.Name+" calls: "+err.Error()+")")
		return nil
	}
	if len(svc.Spec.Selector) == 0 {
		// The remote profile's istiod Service: an ExternalName or an EndpointSlice of remotePilotAddress, i.e. the
		// primary's istiod.
		s.Injector, s.InjectorFromPrimary = in.Name+" → "+in.Service+" (no pods here: the primary's istiod)", true
		return nil
	}
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(), FieldSelector: "status.phase=Running"})
	if err != nil {
		return fmt.Errorf("%s: list the pods of Service %s: %w", c.Name, in.Service, err)
	}
	s.Injector = in.Name + " → " + in.Service + " (local pods)"
	for _, p := range pods.Items {
		for _, ctr := range p.Spec.Containers {
			if ctr.Name == "discovery" {
				s.InjectorVersion = imageTag(ctr.Image)
			}
		}
		if s.InjectorVersion != "" {
			break
		}
	}
	if s.InjectorVersion == "" {
		s.Missing = append(s.Missing, "injector version (no running pod of Service "+in.Service+" with a tagged discovery image)")
	}
	return nil
}

// discoveryTag is the image tag of an istiod Deployment's discovery container.
func discoveryTag(d *appsv1.Deployment) string {
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.Name == "discovery" {
			return imageTag(ctr.Image)
		}
	}
	return ""
}

// injectedProxyTag is the proxy image tag the revision's injector config (ConfigMap istio-sidecar-injector[-<rev>],
// key values) injects: values.global.proxy.image's tag when it names one, else values.global.tag. "" when the cluster
// has no such ConfigMap or it names no tag.
func injectedProxyTag(ctx context.Context, c *kube.Client, rev string) (string, error) {
	cm, err := c.Clientset.CoreV1().ConfigMaps(render.Namespace).Get(ctx, render.InjectorConfigName(rev), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: get ConfigMap %s/%s: %w", c.Name, render.Namespace, render.InjectorConfigName(rev), err)
	}
	return ProxyTag(cm.Data["values"]), nil
}

// ProxyTag reads the tag of the proxy image from an injector ConfigMap's values document (JSON, as istiod's chart
// writes it).
func ProxyTag(values string) string {
	var v struct {
		Global struct {
			Tag   any `json:"tag"`
			Proxy struct {
				Image string `json:"image"`
			} `json:"proxy"`
		} `json:"global"`
	}
	if yaml.Unmarshal([]byte(values), &v) != nil {
		return ""
	}
	if t := imageTag(v.Global.Proxy.Image); t != "" {
		return t
	}
	switch t := v.Global.Tag.(type) {
	case string:
		return t
	case float64: // tag: 1.24 read as a number
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// imageTag is the tag of an image reference ("" when it has none or only a digest).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}
