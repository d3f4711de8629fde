package istiod

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// TrustDomains is the trust domain a mesh config issues identities under and the aliases it also accepts.
type TrustDomains struct {
	TrustDomain string   `json:"trustDomain"`
	Aliases     []string `json:"trustDomainAliases"`
}

// Accepts says whether identities of trust domain td are accepted: td is the trust domain or one of its aliases.
func (t TrustDomains) Accepts(td string) bool {
	return td == t.TrustDomain || slices.Contains(t.Aliases, td)
}

// ParseTrustDomains reads the trust domain and its aliases from a MeshConfig document ("cluster.local" when unset,
// Istio's default).
func ParseTrustDomains(doc string) (TrustDomains, error) {
	var t TrustDomains
	if err := yaml.Unmarshal([]byte(doc), &t); err != nil {
		return t, fmt.Errorf("parse mesh config: %w", err)
	}
	if t.TrustDomain == "" {
		t.TrustDomain = "cluster.local"
	}
	return t, nil
}

// TrustDomainsOf reads a primary's mesh config (of revision) and returns its trust domain and aliases.
func TrustDomainsOf(ctx context.Context, c *kube.Client, revision string) (TrustDomains, error) {
	cm, err := c.Clientset.CoreV1().ConfigMaps(render.Namespace).Get(ctx, MeshConfigMap(revision), metav1.GetOptions{})
	if err != nil {
		return TrustDomains{}, fmt.Errorf("%s: mesh config: %w", c.Name, err)
	}
	t, err := ParseTrustDomains(cm.Data["mesh"])
	if err != nil {
		return t, fmt.Errorf("%s: ConfigMap %s/%s: %w", c.Name, render.Namespace, cm.Name, err)
	}
	return t, nil
}

// SetTrustDomain is an edit for EditMeshConfig that makes istiod issue identities under td (workloads started
// afterwards get certificates of it; the injector passes it to their agents as TRUST_DOMAIN).
func SetTrustDomain(td string) func(map[string]any) error {
	return func(doc map[string]any) error {
		if td == "" {
			return fmt.Errorf("empty trust domain")
		}
		doc["trustDomain"] = td
		return nil
	}
}

// AddTrustDomainAliases is an edit for EditMeshConfig that adds aliases to trustDomainAliases (those already there
// are kept once).
func AddTrustDomainAliases(aliases ...string) func(map[string]any) error {
	return func(doc map[string]any) error {
		list, _ := doc["trustDomainAliases"].([]any)
		for _, a := range aliases {
			if !slices.Contains(list, any(a)) {
				list = append(list, a)
			}
		}
		doc["trustDomainAliases"] = list
		return nil
	}
}
