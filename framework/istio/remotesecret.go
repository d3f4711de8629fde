package istio

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// ReaderServiceAccount is the service account Istio's base chart creates for other clusters' istiods to read with.
	ReaderServiceAccount = "istio-reader-service-account"
	// ReaderTokenSecret is the long-lived token meshconform requests for it (Kubernetes >= 1.24 creates none).
	ReaderTokenSecret = "meshconform-istio-reader-token"
	// RemoteSecretPrefix + cluster names the remote secret in a primary (istioctl create-remote-secret's name).
	RemoteSecretPrefix = "istio-remote-secret-"
	// MultiClusterLabel marks a secret istiod's multicluster controller reads.
	MultiClusterLabel = "istio/multiCluster"
	// ClusterAnnotation names the cluster a remote secret describes.
	ClusterAnnotation = "networking.istio.io/cluster"
)

// APIEndpoint is how another cluster's istiod reaches a cluster's API server.
type APIEndpoint struct {
	// Server is the API server URL (https://<in-network address>:6443).
	Server string
	// CAData is the PEM of the API server's certificate authority.
	CAData []byte
}

// LoadAPIEndpoint reads the server and CA of a kubeconfig's context (the current one when context is empty or
// absent from the file) and rejects loopback servers.
func LoadAPIEndpoint(cluster, kubeconfig, context string) (APIEndpoint, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return APIEndpoint{}, fmt.Errorf("%s: read kubeconfig %s: %w", cluster, kubeconfig, err)
	}
	name := cfg.CurrentContext
	if _, ok := cfg.Contexts[context]; context != "" && ok {
		name = context
	}
	kctx, ok := cfg.Contexts[name]
	if !ok {
		return APIEndpoint{}, fmt.Errorf("%s: kubeconfig %s has no context %q", cluster, kubeconfig, name)
	}
	kc, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return APIEndpoint{}, fmt.Errorf("%s: kubeconfig %s: context %q names unknown cluster %q", cluster, kubeconfig, name, kctx.Cluster)
	}
	ep := APIEndpoint{Server: kc.Server, CAData: kc.CertificateAuthorityData}
	if len(ep.CAData) == 0 && kc.CertificateAuthority != "" {
		if ep.CAData, err = os.ReadFile(kc.CertificateAuthority); err != nil {
			return APIEndpoint{}, fmt.Errorf("%s: read the API server CA of kubeconfig %s: %w", cluster, kubeconfig, err)
		}
	}
	if len(ep.CAData) == 0 {
		return APIEndpoint{}, fmt.Errorf("%s: kubeconfig %s holds no certificate authority for the API server: istiod "+
			"in other clusters could not verify it", cluster, kubeconfig)
	}
	if err := CheckReachableServer(cluster, ep.Server); err != nil {
		return APIEndpoint{}, err
	}
	return ep, nil
}

// CheckReachableServer rejects API server URLs other clusters cannot reach: loopback and unspecified addresses name
// the host's own port forward (kind's default kubeconfig), which from istiod's pod is the pod itself
// (istio#31081, #31290, #58047).
func CheckReachableServer(cluster, server string) error {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s: API server %q is not a URL", cluster, server)
	}
	host := u.Hostname()
	loopback := strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost")
	if ip, err := netip.ParseAddr(host); err == nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		loopback = true
	}
	if loopback {
		return fmt.Errorf("%s: API server %s is a loopback address: it means \"this machine\" to whoever dials it, so "+
			"istiod in another cluster would dial its own pod and never sync %s (istio#31081). Use the in-network "+
			"kubeconfig, whose server is https://<control-plane container IP>:6443 (meshconform writes it as "+
			"<cluster>.internal.kubeconfig), or, for your own clusters, an API address the other clusters can route to",
			cluster, server, cluster)
	}
	return nil
}

// RemoteKubeconfig is the kubeconfig a remote secret carries: the in-network server, its CA and the reader token.
func RemoteKubeconfig(cluster string, ep APIEndpoint, token []byte) ([]byte, error) {
	if err := CheckReachableServer(cluster, ep.Server); err != nil {
		return nil, err
	}
	if len(ep.CAData) == 0 {
		return nil, fmt.Errorf("%s: no API server CA for the remote secret", cluster)
	}
	if len(bytes.TrimSpace(token)) == 0 {
		return nil, fmt.Errorf("%s: empty reader token for the remote secret", cluster)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: ep.Server, CertificateAuthorityData: ep.CAData}
	cfg.AuthInfos[cluster] = &clientcmdapi.AuthInfo{Token: string(bytes.TrimSpace(token))}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster}
	cfg.CurrentContext = cluster
	return clientcmd.Write(*cfg)
}

// RemoteSecret is the secret a primary's istiod reads to watch cluster (the format of istioctl create-remote-secret),
// labelled as environment envName's.
func RemoteSecret(cluster string, kubeconfig []byte, envName string) *corev1.Secret {
	labels := render.ManagedLabels(envName)
	labels[MultiClusterLabel] = "true"
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        RemoteSecretPrefix + cluster,
			Namespace:   render.Namespace,
			Labels:      labels,
			Annotations: map[string]string{ClusterAnnotation: cluster},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{cluster: kubeconfig},
	}
}

// ReaderToken ensures the reader service account has a long-lived token secret in c and returns the token. The
// token never leaves this process except inside the remote secret. The secret is the claimant's: one of its name
// that is not is refused (env.Claimant.Check), and one it may take over gets its labels. The service account is
// Istio's (its base chart creates it): ReaderToken only reads it.
func ReaderToken(ctx context.Context, c *kube.Client, claim env.Claimant, timeout time.Duration) ([]byte, error) {
	return readerTokenNamed(ctx, c, claim, ReaderTokenSecret, timeout)
}

// readerTokenNamed is ReaderToken with the token secret named tokenSecret.
func readerTokenNamed(ctx context.Context, c *kube.Client, claim env.Claimant, tokenSecret string, timeout time.Duration) ([]byte, error) {
	cs := c.Clientset
	var sa *corev1.ServiceAccount
	err := kube.Poll(ctx, c.Name+": ServiceAccount "+render.Namespace+"/"+ReaderServiceAccount, time.Second, timeout,
		func(ctx context.Context) (bool, string, error) {
			var err error
			sa, err = cs.CoreV1().ServiceAccounts(render.Namespace).Get(ctx, ReaderServiceAccount, metav1.GetOptions{})
			if err != nil {
				return false, err.Error() + " (Istio's base chart creates it)", nil
			}
			return true, "", nil
		})
	if err != nil {
		return nil, err
	}
	secrets := cs.CoreV1().Secrets(render.Namespace)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: tokenSecret, Namespace: render.Namespace, Labels: claim.Labels(),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderServiceAccount},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if err := claimTokenSecret(ctx, c, claim, want); err != nil {
		return nil, err
	}
	var token []byte
	err = kube.Poll(ctx, c.Name+": token of "+render.Namespace+"/"+tokenSecret, time.Second, timeout,
		func(ctx context.Context) (bool, string, error) {
			s, err := secrets.Get(ctx, tokenSecret, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			// A token secret left from an earlier service account of the same name carries a dead token.
			if uid := s.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
				if err := secrets.Delete(ctx, tokenSecret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return false, "", err
				}
				_, err := secrets.Create(ctx, want.DeepCopy(), metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					return false, "", err
				}
				return false, "token secret belonged to an older service account: recreated", nil
			}
			token = s.Data[corev1.ServiceAccountTokenKey]
			if len(token) == 0 {
				return false, "token not filled in yet (the token controller of kube-controller-manager fills it)", nil
			}
			return true, "", nil
		})
	if err != nil {
		return nil, err
	}
	return token, nil
}

// claimTokenSecret creates the reader token secret, or makes sure the one that exists may be the claimant's and
// carries its labels.
func claimTokenSecret(ctx context.Context, c *kube.Client, claim env.Claimant, want *corev1.Secret) error {
	secrets := c.Clientset.CoreV1().Secrets(want.Namespace)
	_, err := secrets.Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%s: create token secret %s/%s: %w", c.Name, want.Namespace, want.Name, err)
	}
	have, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%s: get token secret %s/%s: %w", c.Name, want.Namespace, want.Name, err)
	}
	if err := claim.Check(c.Name, kindSecret, have.Namespace, have.Name, have.Labels); err != nil {
		return err
	}
	if have.Type != corev1.SecretTypeServiceAccountToken || have.Annotations[corev1.ServiceAccountNameKey] != ReaderServiceAccount {
		return fmt.Errorf("%s: secret %s/%s exists but is not a token of service account %s (type %s): delete it and re-run",
			c.Name, want.Namespace, want.Name, ReaderServiceAccount, have.Type)
	}
	if hasLabels(have.Labels, want.Labels) {
		return nil
	}
	have.Labels = mergeMaps(have.Labels, want.Labels)
	if _, err := secrets.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("%s: label token secret %s/%s: %w", c.Name, want.Namespace, want.Name, err)
	}
	return nil
}

// ApplyRemoteSecret writes the remote secret into the primary, updating it only when its content changed (istiod
// reloads a changed secret; an identical write would only churn its watch). It reports whether it wrote. An existing
// secret of that name the claimant may not overwrite is refused (env.Claimant.Check).
func ApplyRemoteSecret(ctx context.Context, primary *kube.Client, claim env.Claimant, want *corev1.Secret) (bool, error) {
	secrets := primary.Clientset.CoreV1().Secrets(want.Namespace)
	have, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := secrets.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return false, fmt.Errorf("%s: create %s/%s: %w", primary.Name, want.Namespace, want.Name, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: get %s/%s: %w", primary.Name, want.Namespace, want.Name, err)
	}
	if err := claim.Check(primary.Name, kindSecret, have.Namespace, have.Name, have.Labels); err != nil {
		return false, err
	}
	if sameSecret(have, want) {
		return false, nil
	}
	have.Labels, have.Annotations, have.Data, have.StringData = mergeMaps(have.Labels, want.Labels),
		mergeMaps(have.Annotations, want.Annotations), want.Data, nil
	if _, err := secrets.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("%s: update %s/%s: %w", primary.Name, want.Namespace, want.Name, err)
	}
	return true, nil
}

func sameSecret(have, want *corev1.Secret) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	for k, v := range want.Annotations {
		if have.Annotations[k] != v {
			return false
		}
	}
	if len(have.Data) != len(want.Data) {
		return false
	}
	for k, v := range want.Data {
		if !bytes.Equal(have.Data[k], v) {
			return false
		}
	}
	return true
}

// hasLabels reports whether have holds every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// serverHost is the host:port of an API server URL, for messages.
func serverHost(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Host
}

// readerToken returns the peer's reader token, creating it once per run.
func (r *run) readerToken(ctx context.Context, peer string) ([]byte, error) {
	r.mu.Lock()
	tok, ok := r.tokens[peer]
	r.mu.Unlock()
	if ok {
		return tok, nil
	}
	tok, err := ReaderToken(ctx, r.clients[peer], r.claim, r.opts.Timeouts.ReaderToken)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.tokens[peer] = tok
	r.mu.Unlock()
	return tok, nil
}

// apiEndpoint is how other clusters reach peer's API server: the in-network kubeconfig of a kind cluster, the
// user's kubeconfig (and context) of a bring-your-own cluster.
func (r *run) apiEndpoint(peer string) (APIEndpoint, error) {
	ec := r.envs[peer]
	if ec.Access.InternalKubeconfig != "" {
		return LoadAPIEndpoint(peer, ec.Access.InternalKubeconfig, ec.Access.Context)
	}
	return LoadAPIEndpoint(peer, ec.Access.Kubeconfig, ec.Access.Context)
}

// remoteSecret writes, in primary, the secret that lets its istiod read peer.
func (r *run) remoteSecret(ctx context.Context, primary, peer string) error {
	began := time.Now()
	ep, err := r.apiEndpoint(peer)
	if err != nil {
		return err
	}
	tok, err := r.readerToken(ctx, peer)
	if err != nil {
		return err
	}
	kc, err := RemoteKubeconfig(peer, ep, tok)
	if err != nil {
		return err
	}
	wrote, err := ApplyRemoteSecret(ctx, r.clients[primary], r.claim, RemoteSecret(peer, kc, r.claim.Env))
	if err != nil {
		return err
	}
	what := "unchanged"
	if wrote {
		what = "written"
	}
	r.logf(primary, began, "remote secret %s%s %s (server %s)", RemoteSecretPrefix, peer, what, ep.Server)
	return nil
}
