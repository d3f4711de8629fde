package trust

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

const (
	// Namespace is where istiod looks for cacerts.
	Namespace = "istio-system"
	// SecretName is the plug-in CA secret istiod mounts at startup.
	SecretName = "cacerts"
	// SelfSignedSecretName is where istiod keeps the CA it generates when it finds no cacerts.
	SelfSignedSecretName = "istio-ca-secret"
	// istioGeneratedKey marks a cacerts istiod wrote itself (self-signed CA stored under the cacerts name).
	istioGeneratedKey = "istio-generated"

	ManagedByLabel = env.ManagedByLabel
	ManagedByValue = env.ManagedByValue
)

// ApplySecret creates or updates the cluster's cacerts secret from b and reports whether it changed anything. It
// should run before istiod starts. A running istiod reloads a new intermediate under the same root, but ignores a
// new root ("Multi root is disabled, updating new ROOT-CA not supported", measured with 1.31), so when changed is
// true and istiod is already running, the caller restarts it.
//
// The secret carries claim's labels. It refuses, naming the fix, when istiod already made its own CA
// (istio-ca-secret, or a cacerts marked istio-generated): that CA stays in use and cross-cluster mTLS fails with
// "unknown authority" (istio#36723). It also refuses to overwrite a cacerts claim may not (env.Claimant.Check: not
// meshconform's, or another environment's, unless claim.Adopt), since that is someone's trust material
// (istio#38761). A cacerts it may take over whose certificates already match only gets its labels: changed stays
// false, since istiod runs on those certificates already.
func ApplySecret(ctx context.Context, c *kube.Client, b *Bundle, claim env.Claimant) (changed bool, err error) {
	if b == nil || b.cert == nil {
		return false, fmt.Errorf("%s: apply %s: empty bundle", c.Name, SecretName)
	}
	// Applying another cluster's intermediate would work and hide a wiring bug; the names must agree.
	if b.Cluster != c.Name {
		return false, fmt.Errorf("%s: apply %s: bundle is for cluster %q", c.Name, SecretName, b.Cluster)
	}
	cs := c.Clientset
	if err := c.EnsureNamespace(ctx, Namespace, nil); err != nil {
		return false, err
	}

	want := b.SecretData()
	secrets := cs.CoreV1().Secrets(Namespace)
	existing, err := secrets.Get(ctx, SecretName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("%s: get %s/%s: %w", c.Name, Namespace, SecretName, err)
	}
	if err != nil {
		existing = nil
	}
	if existing != nil {
		if _, ok := existing.Data[istioGeneratedKey]; ok {
			return false, fmt.Errorf("%s: %s/%s was written by istiod (key %q): istiod already runs its own self-signed CA; "+
				"delete the secret, apply meshconform's, then restart istiod, or recreate the cluster",
				c.Name, Namespace, SecretName, istioGeneratedKey)
		}
		if err := claim.Check(c.Name, "Secret", Namespace, SecretName, existing.Labels); err != nil {
			return false, err
		}
		if dataMatches(existing.Data, want) {
			if contains(existing.Labels, claim.Labels()) {
				return false, nil
			}
			existing.Labels = merged(existing.Labels, claim.Labels())
			if _, err := secrets.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return false, fmt.Errorf("%s: label %s/%s: %w", c.Name, Namespace, SecretName, err)
			}
			return false, nil
		}
	}

	if _, err := secrets.Get(ctx, SelfSignedSecretName, metav1.GetOptions{}); err == nil {
		return false, fmt.Errorf("%s: %s/%s exists: istiod already generated its own self-signed CA; it keeps signing with it until "+
			"restarted and workloads keep its certificates, so other clusters see an unknown authority (istio#36723). "+
			"Delete that secret and re-run, then restart istiod and the workloads, or recreate the cluster", c.Name, Namespace, SelfSignedSecretName)
	} else if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("%s: get %s/%s: %w", c.Name, Namespace, SelfSignedSecretName, err)
	}

	if existing == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace, Labels: claim.Labels()},
			Type:       corev1.SecretTypeOpaque,
			Data:       want,
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return false, fmt.Errorf("%s: create %s/%s: %w", c.Name, Namespace, SecretName, err)
		}
		return true, nil
	}

	existing.Labels = merged(existing.Labels, claim.Labels())
	existing.Data = want
	if _, err := secrets.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("%s: update %s/%s: %w", c.Name, Namespace, SecretName, err)
	}
	return true, nil
}

func contains(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func merged(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// dataMatches: the four keys equal and no istio-generated marker (which would make istiod treat it as its own CA).
func dataMatches(have, want map[string][]byte) bool {
	if _, ok := have[istioGeneratedKey]; ok {
		return false
	}
	for k, v := range want {
		if !bytes.Equal(have[k], v) {
			return false
		}
	}
	return true
}
