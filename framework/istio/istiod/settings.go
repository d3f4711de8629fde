package istiod

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
)

// Settings is what a cluster says about its place in the mesh, read from the cluster itself (not from what
// meshconform asked for): the mesh config istiod and the injector use, the network label, the cluster ID, the root
// it distributes, and its istiod's version and revision.
type Settings struct {
	MeshID             string
	TrustDomain        string
	TrustDomainAliases []string
	Network            string
	ClusterID          string
	RootFingerprint    string
	// Version and Revision are the cluster's istiod's (primaries only): its image tag and istio.io/rev label.
	Version  string
	Revision string
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

// ReadSettings reads a cluster's Settings. revision names the ConfigMap istio-<revision> ("" for the default
// revision's "istio").
func ReadSettings(ctx context.Context, c *kube.Client, primary bool, revision string) (Settings, error) {
	var s Settings
	cs := c.Clientset
	cmName := "istio"
	if revision != "" && revision != "default" {
		cmName += "-" + revision
	}
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
	if s.ClusterID, err = ClusterID(ctx, c, primary); err != nil {
		return s, err
	}
	if primary {
		d, err := cs.AppsV1().Deployments(render.Namespace).Get(ctx, "istiod", metav1.GetOptions{})
		if err != nil {
			return s, fmt.Errorf("%s: get istiod: %w", c.Name, err)
		}
		s.Revision = d.Labels["istio.io/rev"]
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if ctr.Name == "discovery" {
				s.Version = imageTag(ctr.Image)
			}
		}
	}
	return s, nil
}

// imageTag is the tag of an image reference ("" when it has none or only a digest).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}
