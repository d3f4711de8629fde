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
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

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

// ServiceAccountToken creates (or reads) service account name in istio-system of c with no RBAC bound to it, and a
// long-lived token secret for it (both the claimant's), and returns the token.
func ServiceAccountToken(ctx context.Context, c *kube.Client, claim env.Claimant, name string, timeout time.Duration) ([]byte, error) {
	sas := c.Clientset.CoreV1().ServiceAccounts(render.Namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: render.Namespace, Labels: claim.Labels()}}
	if _, err := sas.Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("%s: create ServiceAccount %s/%s: %w", c.Name, render.Namespace, name, err)
	}
	secrets := c.Clientset.CoreV1().Secrets(render.Namespace)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-token", Namespace: render.Namespace, Labels: claim.Labels(),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: name}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if _, err := secrets.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("%s: create token secret %s/%s: %w", c.Name, render.Namespace, want.Name, err)
	}
	var token []byte
	err := kube.Poll(ctx, c.Name+": token of "+render.Namespace+"/"+want.Name, time.Second, timeout,
		func(ctx context.Context) (bool, string, error) {
			s, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			token = s.Data[corev1.ServiceAccountTokenKey]
			return len(token) > 0, "token not filled in yet", nil
		})
	return token, err
}

// DeleteServiceAccountToken deletes what ServiceAccountToken created (only the claimant's).
func DeleteServiceAccountToken(ctx context.Context, c *kube.Client, claim env.Claimant, name string) error {
	if err := RevokeReaderToken(ctx, c, claim, name+"-token"); err != nil {
		return err
	}
	sas := c.Clientset.CoreV1().ServiceAccounts(render.Namespace)
	have, err := sas.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: get ServiceAccount %s/%s: %w", c.Name, render.Namespace, name, err)
	}
	if err := claim.Check(c.Name, "ServiceAccount", have.Namespace, have.Name, have.Labels); err != nil {
		return err
	}
	if err := sas.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete ServiceAccount %s/%s: %w", c.Name, render.Namespace, name, err)
	}
	return nil
}

// ExecKubeconfig is a kubeconfig for ep that authenticates with an exec credential plugin (/bin/true): istiod
// refuses such kubeconfigs in remote secrets unless PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS allows exec.
func ExecKubeconfig(cluster string, ep APIEndpoint) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: ep.Server, CertificateAuthorityData: ep.CAData}
	cfg.AuthInfos[cluster] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1", Command: "/bin/true", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster}
	cfg.CurrentContext = cluster
	return clientcmd.Write(*cfg)
}
