package istio

// Remote-secret lifecycle: what the lifecycle specs do to a primary's remote secrets (rotate, remove, restore) and
// the credentials they carry, with the pieces `up` writes them with.

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// RotatedTokenSecret is the second reader token secret a rotation mints beside ReaderTokenSecret (a rotation moves
// the remote secrets from one to the other, and its restore back).
const RotatedTokenSecret = ReaderTokenSecret + "-rotated"

// MintReaderToken creates (or reads) the long-lived token secret tokenSecret of Istio's reader service account in c
// and returns its token. The secret is the claimant's (see ReaderToken).
func MintReaderToken(ctx context.Context, c *kube.Client, claim env.Claimant, tokenSecret string, timeout time.Duration) ([]byte, error) {
	return readerTokenNamed(ctx, c, claim, tokenSecret, timeout)
}

// RevokeReaderToken deletes the token secret tokenSecret from c, which makes the API server refuse its token
// (service-account token secrets are checked on every request). Only the claimant's secret is deleted; a missing
// one is not an error.
func RevokeReaderToken(ctx context.Context, c *kube.Client, claim env.Claimant, tokenSecret string) error {
	secrets := c.Clientset.CoreV1().Secrets(render.Namespace)
	have, err := secrets.Get(ctx, tokenSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: get token secret %s/%s: %w", c.Name, render.Namespace, tokenSecret, err)
	}
	if err := claim.Check(c.Name, kindSecret, have.Namespace, have.Name, have.Labels); err != nil {
		return err
	}
	if err := secrets.Delete(ctx, tokenSecret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete token secret %s/%s: %w", c.Name, render.Namespace, tokenSecret, err)
	}
	return nil
}

// APIEndpointOf is how other clusters reach c's API server: the in-network kubeconfig of a kind cluster, the
// user's kubeconfig (and context) of a brought one.
func APIEndpointOf(c env.Cluster) (APIEndpoint, error) {
	if c.Access.InternalKubeconfig != "" {
		return LoadAPIEndpoint(c.Name, c.Access.InternalKubeconfig, c.Access.Context)
	}
	return LoadAPIEndpoint(c.Name, c.Access.Kubeconfig, c.Access.Context)
}

// RemoteSecretWithToken is the remote secret for peer carrying token, as `up` writes it (environment envName's).
func RemoteSecretWithToken(peer env.Cluster, token []byte, envName string) (*corev1.Secret, error) {
	ep, err := APIEndpointOf(peer)
	if err != nil {
		return nil, err
	}
	kc, err := RemoteKubeconfig(peer.Name, ep, token)
	if err != nil {
		return nil, err
	}
	return RemoteSecret(peer.Name, kc, envName), nil
}

// GetRemoteSecret reads primary's remote secret for peer (nil when there is none).
func GetRemoteSecret(ctx context.Context, primary *kube.Client, peer string) (*corev1.Secret, error) {
	s, err := primary.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, RemoteSecretPrefix+peer, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get %s/%s%s: %w", primary.Name, render.Namespace, RemoteSecretPrefix, peer, err)
	}
	return s, nil
}

// DeleteRemoteSecret deletes primary's remote secret for peer if it is the claimant's; a missing one is not an
// error.
func DeleteRemoteSecret(ctx context.Context, primary *kube.Client, claim env.Claimant, peer string) error {
	have, err := GetRemoteSecret(ctx, primary, peer)
	if err != nil || have == nil {
		return err
	}
	if err := claim.Check(primary.Name, kindSecret, have.Namespace, have.Name, have.Labels); err != nil {
		return err
	}
	err = primary.Clientset.CoreV1().Secrets(render.Namespace).Delete(ctx, have.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete %s/%s: %w", primary.Name, have.Namespace, have.Name, err)
	}
	return nil
}
