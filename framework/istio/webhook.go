package istio

import (
	"context"
	"fmt"
	"time"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// remoteWebhook waits until the primary's istiod has patched the remote's injection webhook with its CA bundle,
// which it does only as the remote's control plane (externalIstiod plus the controlPlaneClusters annotation) once it
// reads the remote through its secret. The webhook is the one that injects the remote's test workloads (its
// revision's, or the tag's), and that revision must run in the primary.
func (r *run) remoteWebhook(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	c := r.clients[name]
	if err := r.checkRemoteRevision(name, tc.Primary); err != nil {
		return err
	}
	in := r.injection(name)
	webhook := in.Webhook
	if webhook == "" {
		webhook = render.InjectorWebhookName(in.Revision)
	}
	err := kube.Poll(ctx, name+": caBundle of MutatingWebhookConfiguration "+webhook, 2*time.Second, r.opts.Timeouts.RemoteSync,
		func(ctx context.Context) (bool, string, error) {
			wh, err := c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhook, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			if len(wh.Webhooks) == 0 {
				return false, "no webhooks", nil
			}
			for _, w := range wh.Webhooks {
				if len(w.ClientConfig.CABundle) == 0 {
					return false, "webhook " + w.Name + " has no caBundle yet", nil
				}
			}
			return true, "", nil
		})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: istiod in %s patches it only when it runs with EXTERNAL_ISTIOD=true (values.global.externalIstiod), "+
			"%s's namespace %s carries %s=%s, and its remote secret for %s is loaded (istio#42327); until then every "+
			"pod the webhook selects is refused", err, tc.Primary, name, render.Namespace, render.ControlPlaneClustersAnnot, tc.Primary, name)
	}
	r.logf(name, began, "injection webhook %s patched by %s's istiod", webhook, tc.Primary)
	return nil
}
