package istio

import (
	"context"
	"fmt"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cacerts applies the primary's intermediate before istiod starts; a change under a running istiod restarts it.
func (r *run) cacerts(ctx context.Context, name string) error {
	began := time.Now()
	b, err := r.ca.Intermediate(name)
	if err != nil {
		return err
	}
	c := r.clients[name]
	changed, err := trust.ApplySecret(ctx, c, b, r.claim)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.IntermediateFingerprint = b.Fingerprint() })
	what := "unchanged"
	if changed {
		what = "written"
		restarted, err := restartIfExists(ctx, c, render.IstiodName(r.opts.Revision))
		if err != nil {
			return err
		}
		if restarted {
			what = "written under a running istiod: istiod restarted (workloads started before keep their old certificates until restarted)"
		}
	}
	r.logf(name, began, "cacerts %s (intermediate %s)", what, short(b.Fingerprint()))
	return nil
}

func short(fp string) string {
	if len(fp) > 23 {
		return fp[:23] + "..."
	}
	return fp
}

// restartIfExists rolls a Deployment in istio-system (kubectl rollout restart) and waits until only new pods run,
// reporting whether it existed.
func restartIfExists(ctx context.Context, c *kube.Client, name string) (bool, error) {
	_, err := c.Clientset.AppsV1().Deployments(render.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: get %s: %w", c.Name, name, err)
	}
	return true, c.RolloutRestart(ctx, render.Namespace, name, 3*time.Minute)
}
