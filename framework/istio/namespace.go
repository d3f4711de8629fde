package istio

import (
	"context"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// namespace creates istio-system with the network label and, on a remote, the annotation naming its primary (the
// primary's istiod then leads the remote: root certificate distribution and webhook caBundle patching).
func (r *run) namespace(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	annotations := map[string]string{}
	if tc.IsRemote() {
		annotations[render.ControlPlaneClustersAnnot] = tc.Primary
	}
	if _, _, err := r.clients[name].EnsureNamespaceWith(ctx, kube.Namespace{Name: render.Namespace, CreateLabels: r.claim.Labels(),
		Labels: map[string]string{render.NetworkLabel: tc.Network}, Annotations: annotations}); err != nil {
		return err
	}
	if tc.IsRemote() {
		// Workloads of a remote get certificates from the primary's istiod, signed by the primary's intermediate.
		b, err := r.ca.Intermediate(tc.Primary)
		if err != nil {
			return err
		}
		r.mesh(name, func(mc *env.MeshCluster) { mc.IntermediateFingerprint = b.Fingerprint() })
		r.logf(name, began, "namespace %s: network %s, control plane in %s", render.Namespace, tc.Network, tc.Primary)
		return nil
	}
	r.logf(name, began, "namespace %s: network %s", render.Namespace, tc.Network)
	return nil
}
