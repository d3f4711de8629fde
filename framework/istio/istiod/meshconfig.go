package istiod

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// MeshConfigMap is the name of the ConfigMap holding a revision's mesh config ("" or "default": istio).
func MeshConfigMap(revision string) string {
	if revision == "" || revision == "default" {
		return "istio"
	}
	return "istio-" + revision
}

// serviceSettings is the part of MeshConfig that scopes services.
type serviceSettings struct {
	ServiceSettings []struct {
		Settings struct {
			ClusterLocal bool `json:"clusterLocal"`
		} `json:"settings"`
		Hosts []string `json:"hosts"`
	} `json:"serviceSettings"`
}

// ClusterLocalPatterns are the host patterns a MeshConfig document makes cluster-local (serviceSettings with
// settings.clusterLocal).
func ClusterLocalPatterns(doc string) ([]string, error) {
	var s serviceSettings
	if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
		return nil, fmt.Errorf("parse mesh config: %w", err)
	}
	var out []string
	for _, e := range s.ServiceSettings {
		if e.Settings.ClusterLocal {
			out = append(out, e.Hosts...)
		}
	}
	return out, nil
}

// HostMatches says whether a serviceSettings host pattern covers host: an exact name, or a leading "*." wildcard,
// which Istio matches against any prefix ("*.ns.svc.cluster.local", "*").
func HostMatches(pattern, host string) bool {
	if pattern == "*" || pattern == host {
		return true
	}
	return strings.HasPrefix(pattern, "*.") && strings.HasSuffix(host, pattern[1:])
}

// ClusterLocalFor reads a cluster's mesh config and returns the serviceSettings patterns that make host
// cluster-local there (none: it is not).
func ClusterLocalFor(ctx context.Context, c *kube.Client, revision, host string) ([]string, error) {
	cm, err := c.Clientset.CoreV1().ConfigMaps(render.Namespace).Get(ctx, MeshConfigMap(revision), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: mesh config: %w", c.Name, err)
	}
	patterns, err := ClusterLocalPatterns(cm.Data["mesh"])
	if err != nil {
		return nil, fmt.Errorf("%s: ConfigMap %s/%s: %w", c.Name, render.Namespace, cm.Name, err)
	}
	var out []string
	for _, p := range patterns {
		if HostMatches(p, host) {
			out = append(out, p)
		}
	}
	return out, nil
}

// EditMeshConfig changes a cluster's mesh config (edit gets the parsed document and changes it) and returns restore,
// which writes the document back exactly as it was. istiod watches the ConfigMap and applies a change without a
// restart.
func EditMeshConfig(ctx context.Context, c *kube.Client, revision string, edit func(map[string]any) error) (restore func(context.Context) error, err error) {
	cms := c.Clientset.CoreV1().ConfigMaps(render.Namespace)
	name := MeshConfigMap(revision)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: mesh config: %w", c.Name, err)
	}
	original := cm.Data["mesh"]
	doc := map[string]any{}
	if err := yaml.Unmarshal([]byte(original), &doc); err != nil {
		return nil, fmt.Errorf("%s: ConfigMap %s/%s: parse mesh config: %w", c.Name, render.Namespace, name, err)
	}
	if err := edit(doc); err != nil {
		return nil, err
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	write := func(ctx context.Context, mesh string) error {
		cur, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s: mesh config: %w", c.Name, err)
		}
		cur.Data["mesh"] = mesh
		if _, err := cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("%s: update ConfigMap %s/%s: %w", c.Name, render.Namespace, name, err)
		}
		return nil
	}
	restore = func(ctx context.Context) error { return write(ctx, original) }
	// Optimistic concurrency: Update carries the resourceVersion read above, so a concurrent change is refused, not
	// overwritten.
	cm.Data["mesh"] = string(b)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("%s: update ConfigMap %s/%s: %w", c.Name, render.Namespace, name, err)
	}
	return restore, nil
}

// SetClusterLocal is an edit for EditMeshConfig that adds a serviceSettings entry making hosts cluster-local.
func SetClusterLocal(hosts ...string) func(map[string]any) error {
	return func(doc map[string]any) error {
		list, _ := doc["serviceSettings"].([]any)
		hs := make([]any, len(hosts))
		for i, h := range hosts {
			hs[i] = h
		}
		doc["serviceSettings"] = append(list, map[string]any{"settings": map[string]any{"clusterLocal": true}, "hosts": hs})
		return nil
	}
}
