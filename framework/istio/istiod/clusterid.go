package istiod

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterID is the cluster ID Istio knows a cluster by, which istiod's /debug/clusterz and workloads' metadata use.
// meshconform installs with the topology's cluster names as IDs; a mesh brought preinstalled may use others. A
// primary's is its istiod's CLUSTER_ID; a remote's is the cluster its injection webhook names (the remote profile's
// path /inject/cluster/<ID>/net/<network>). rev is the revision whose istiod or injector is read ("default" for the
// default one). "" with no error when the cluster does not say.
func ClusterID(ctx context.Context, c *kube.Client, primary bool, rev string) (string, error) {
	cs := c.Clientset
	if primary {
		d, err := Deployment(ctx, c, rev)
		if err != nil {
			return "", err
		}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			for _, e := range ctr.Env {
				if e.Name == "CLUSTER_ID" && e.ValueFrom == nil {
					return e.Value, nil
				}
			}
		}
		return "", nil
	}
	name := render.InjectorWebhookName(rev)
	if revs, err := ReadRevisions(ctx, c); err == nil {
		if in, ok := revs.Injector(rev); ok {
			name = in.Name
		}
	}
	wh, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("%s: get MutatingWebhookConfiguration %s: %w", c.Name, name, err)
	}
	for _, w := range wh.Webhooks {
		var path string
		switch cc := w.ClientConfig; {
		case cc.Service != nil && cc.Service.Path != nil:
			path = *cc.Service.Path
		case cc.URL != nil:
			if u, err := url.Parse(*cc.URL); err == nil {
				path = u.Path
			}
		}
		if id := injectionPathCluster(path); id != "" {
			return id, nil
		}
	}
	return "", nil
}

// injectionPathCluster is the cluster of an injection path /inject/cluster/<ID>/net/<network> ("" for other paths).
func injectionPathCluster(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "cluster" && i > 0 && parts[i-1] == "inject" {
			return parts[i+1]
		}
	}
	return ""
}
