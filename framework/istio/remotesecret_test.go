package istio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/steps"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

var testCA = []byte("-----BEGIN CERTIFICATE-----\nTUVTSENPTkZPUk0=\n-----END CERTIFICATE-----\n")

// testClaim is the environment the tests write as (syncRun's state is named "test").
var testClaim = env.Claimant{Env: "test"}

func fakeCluster(name string, objs ...runtime.Object) *kube.Client {
	return &kube.Client{Name: name, Clientset: fake.NewClientset(objs...)}
}

func TestCheckReachableServerRejectsLoopback(t *testing.T) {
	for _, server := range []string{
		"https://127.0.0.1:36443", "https://127.1.2.3:6443", "https://localhost:6443", "https://LOCALHOST",
		"https://api.localhost:6443", "https://[::1]:6443", "https://0.0.0.0:6443", "https://[::]:6443",
	} {
		err := CheckReachableServer("cluster2", server)
		if err == nil {
			t.Errorf("%s accepted", server)
			continue
		}
		for _, want := range []string{"cluster2", "loopback", "in-network kubeconfig", "istio#31081"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %q", server, err, want)
			}
		}
	}
	for _, server := range []string{"https://172.18.0.3:6443", "https://api.example.com", "https://[fd00::3]:6443"} {
		if err := CheckReachableServer("cluster2", server); err != nil {
			t.Errorf("%s rejected: %v", server, err)
		}
	}
	if err := CheckReachableServer("cluster2", "not a url"); err == nil {
		t.Error("a non-URL was accepted")
	}
}

func TestRemoteKubeconfigCarriesServerCAAndToken(t *testing.T) {
	ep := APIEndpoint{Server: "https://172.18.0.3:6443", CAData: testCA}
	b, err := RemoteKubeconfig("cluster2", ep, []byte("tok-123\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatalf("the remote secret's kubeconfig does not parse: %v", err)
	}
	if cfg.CurrentContext != "cluster2" {
		t.Errorf("current-context = %q", cfg.CurrentContext)
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if kctx == nil {
		t.Fatal("no current context")
	}
	cl, user := cfg.Clusters[kctx.Cluster], cfg.AuthInfos[kctx.AuthInfo]
	if cl == nil || user == nil {
		t.Fatalf("context %+v names missing cluster or user", kctx)
	}
	if cl.Server != ep.Server {
		t.Errorf("server = %q, want the in-network %q", cl.Server, ep.Server)
	}
	if !bytes.Equal(cl.CertificateAuthorityData, testCA) {
		t.Error("CA data lost")
	}
	if user.Token != "tok-123" {
		t.Errorf("token = %q, want it trimmed", user.Token)
	}
	if cl.InsecureSkipTLSVerify {
		t.Error("the kubeconfig skips TLS verification")
	}

	for name, c := range map[string]struct {
		ep    APIEndpoint
		token string
	}{
		"loopback": {APIEndpoint{Server: "https://127.0.0.1:40001", CAData: testCA}, "t"},
		"no CA":    {APIEndpoint{Server: ep.Server}, "t"},
		"no token": {ep, "  \n"},
	} {
		if _, err := RemoteKubeconfig("cluster2", c.ep, []byte(c.token)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func writeKubeconfig(t *testing.T, cfg *clientcmdapi.Config) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAPIEndpoint(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["in"] = &clientcmdapi.Cluster{Server: "https://172.18.0.3:6443", CertificateAuthorityData: testCA}
	cfg.Clusters["host"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:40001", CertificateAuthorityData: testCA}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts["kind-in"] = &clientcmdapi.Context{Cluster: "in", AuthInfo: "u"}
	cfg.Contexts["kind-host"] = &clientcmdapi.Context{Cluster: "host", AuthInfo: "u"}
	cfg.CurrentContext = "kind-host"
	p := writeKubeconfig(t, cfg)

	ep, err := LoadAPIEndpoint("cluster2", p, "kind-in")
	if err != nil {
		t.Fatal(err)
	}
	if ep.Server != "https://172.18.0.3:6443" || !bytes.Equal(ep.CAData, testCA) {
		t.Errorf("endpoint = %+v", ep)
	}
	// The current context points at the host's port forward: refused, with the reason.
	if _, err := LoadAPIEndpoint("cluster2", p, ""); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("loopback current context: err = %v", err)
	}
	// An unknown context falls back to the current one (kind's in-network file names its context differently).
	if _, err := LoadAPIEndpoint("cluster2", p, "missing"); err == nil {
		t.Error("fell back to a loopback current context without error")
	}

	// CA given as a file path.
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, testCA, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2 := clientcmdapi.NewConfig()
	cfg2.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://10.0.0.1:6443", CertificateAuthority: caFile}
	cfg2.Contexts["c"] = &clientcmdapi.Context{Cluster: "c"}
	cfg2.CurrentContext = "c"
	ep, err = LoadAPIEndpoint("cluster3", writeKubeconfig(t, cfg2), "")
	if err != nil || !bytes.Equal(ep.CAData, testCA) {
		t.Errorf("CA from file: %+v, %v", ep, err)
	}

	// No CA at all: istiod could not verify the server.
	cfg3 := clientcmdapi.NewConfig()
	cfg3.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://10.0.0.1:6443", InsecureSkipTLSVerify: true}
	cfg3.Contexts["c"] = &clientcmdapi.Context{Cluster: "c"}
	cfg3.CurrentContext = "c"
	if _, err := LoadAPIEndpoint("cluster3", writeKubeconfig(t, cfg3), ""); err == nil {
		t.Error("a kubeconfig without CA was accepted")
	}
}

func TestRemoteSecretFormat(t *testing.T) {
	s := RemoteSecret("cluster2", []byte("kc"), "dev")
	if !env.OwnerOf(s.Labels).Mine("dev") {
		t.Errorf("labels %v: not environment dev's", s.Labels)
	}
	if s.Name != "istio-remote-secret-cluster2" || s.Namespace != "istio-system" {
		t.Errorf("name = %s/%s", s.Namespace, s.Name)
	}
	if s.Labels["istio/multiCluster"] != "true" {
		t.Errorf("labels = %v", s.Labels)
	}
	if s.Annotations["networking.istio.io/cluster"] != "cluster2" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	if len(s.Data) != 1 || string(s.Data["cluster2"]) != "kc" {
		t.Errorf("data keys: the kubeconfig must sit under the cluster name, got %d keys", len(s.Data))
	}
}

func TestApplyRemoteSecretIsIdempotent(t *testing.T) {
	ctx := context.Background()
	p := fakeCluster("cluster1")
	wrote, err := ApplyRemoteSecret(ctx, p, testClaim, RemoteSecret("cluster2", []byte("v1"), "test"))
	if err != nil || !wrote {
		t.Fatalf("create: wrote=%v err=%v", wrote, err)
	}
	wrote, err = ApplyRemoteSecret(ctx, p, testClaim, RemoteSecret("cluster2", []byte("v1"), "test"))
	if err != nil || wrote {
		t.Fatalf("same content: wrote=%v err=%v, want no write", wrote, err)
	}
	wrote, err = ApplyRemoteSecret(ctx, p, testClaim, RemoteSecret("cluster2", []byte("v2"), "test"))
	if err != nil || !wrote {
		t.Fatalf("new content: wrote=%v err=%v", wrote, err)
	}
	s, err := p.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, "istio-remote-secret-cluster2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["cluster2"]) != "v2" || s.Labels[MultiClusterLabel] != "true" {
		t.Errorf("secret after update: labels %v", s.Labels)
	}
}

func readerSA(uid string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ReaderServiceAccount, Namespace: render.Namespace, UID: types.UID("sa-" + uid)}}
}

func TestReaderTokenCreatesTheTokenSecret(t *testing.T) {
	ctx := context.Background()
	c := fakeCluster("cluster2", readerSA("1"))
	// The fake has no token controller: nothing fills the token, so the wait must time out naming what it waited for.
	_, err := ReaderToken(ctx, c, testClaim, 1500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("err = %v", err)
	}
	s, gerr := c.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, ReaderTokenSecret, metav1.GetOptions{})
	if gerr != nil {
		t.Fatalf("the token secret was not created: %v", gerr)
	}
	if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != ReaderServiceAccount {
		t.Errorf("token secret type %s annotations %v", s.Type, s.Annotations)
	}
}

func TestReaderTokenReturnsFilledToken(t *testing.T) {
	ctx := context.Background()
	filled := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ReaderTokenSecret, Namespace: render.Namespace, Labels: env.ObjectLabels("test"),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderServiceAccount, corev1.ServiceAccountUIDKey: "sa-1"}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte("the-token")},
	}
	tok, err := ReaderToken(ctx, fakeCluster("cluster2", readerSA("1"), filled), testClaim, 5*time.Second)
	if err != nil || string(tok) != "the-token" {
		t.Fatalf("token %q, err %v", tok, err)
	}

	// A token of an earlier service account of the same name is dead: the secret is recreated (and then waits).
	c := fakeCluster("cluster2", readerSA("2"), filled.DeepCopy())
	if _, err := ReaderToken(ctx, c, testClaim, 1500*time.Millisecond); err == nil {
		t.Fatal("returned a token of another service account")
	}
	s, err := c.Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, ReaderTokenSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data[corev1.ServiceAccountTokenKey]) != 0 {
		t.Error("the stale token secret was kept")
	}
}

func TestReaderTokenWithoutServiceAccount(t *testing.T) {
	_, err := ReaderToken(context.Background(), fakeCluster("cluster2"), testClaim, 1200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), ReaderServiceAccount) {
		t.Fatalf("err = %v", err)
	}
}

func TestRemoteSecretStepUsesTheInNetworkServer(t *testing.T) {
	ctx := context.Background()
	r, _ := syncRun(t, nil)
	var out bytes.Buffer
	r.opts.Out = &out
	r.steps = steps.New("istio", &out)

	kc := func(server string) string {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: testCA}
		cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: []byte("admin-cert")}
		cfg.Contexts["kind-meshconform-cluster2"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "admin"}
		cfg.CurrentContext = "kind-meshconform-cluster2"
		return writeKubeconfig(t, cfg)
	}
	r.envs["cluster2"].Access.Kubeconfig = kc("https://127.0.0.1:40123")
	r.envs["cluster2"].Access.InternalKubeconfig = kc("https://172.18.0.3:6443")
	r.envs["cluster2"].Access.Context = "kind-meshconform-cluster2"
	token := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ReaderTokenSecret, Namespace: render.Namespace, Labels: env.ObjectLabels("test"),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte("s3cr3t-token")},
	}
	r.clients["cluster2"] = fakeCluster("cluster2", readerSA("1"), token)

	if err := r.remoteSecret(ctx, "cluster1", "cluster2"); err != nil {
		t.Fatal(err)
	}
	s, err := r.clients["cluster1"].Clientset.CoreV1().Secrets(render.Namespace).Get(ctx, "istio-remote-secret-cluster2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(s.Data["cluster2"])
	if err != nil {
		t.Fatal(err)
	}
	cl := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	if cl.Server != "https://172.18.0.3:6443" {
		t.Errorf("server %s, want the in-network one", cl.Server)
	}
	if u := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]; u.Token != "s3cr3t-token" || len(u.ClientCertificateData) != 0 {
		t.Error("the remote secret must carry the reader token and not the admin credentials")
	}
	if strings.Contains(out.String(), "s3cr3t") {
		t.Errorf("the token was printed: %s", out.String())
	}
	if !strings.Contains(out.String(), "cluster1: remote secret istio-remote-secret-cluster2 written") {
		t.Errorf("progress: %q", out.String())
	}

	// A bring-your-own cluster has no in-network kubeconfig; its loopback server is refused.
	r.envs["cluster2"].Access.InternalKubeconfig = ""
	if err := r.remoteSecret(ctx, "cluster1", "cluster2"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("err = %v", err)
	}
}
