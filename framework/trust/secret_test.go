package trust

import (
	"bytes"
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// dev is the environment applying cacerts in these tests.
var dev = env.Claimant{Env: "dev"}

func fakeCluster(name string, objs ...runtime.Object) *kube.Client {
	return &kube.Client{Name: name, Clientset: fake.NewClientset(objs...)}
}

func getCacerts(t *testing.T, c *kube.Client) *corev1.Secret {
	t.Helper()
	s, err := c.Clientset.CoreV1().Secrets(Namespace).Get(context.Background(), SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get cacerts: %v", err)
	}
	return s
}

func assertData(t *testing.T, s *corev1.Secret, b *Bundle) {
	t.Helper()
	want := b.SecretData()
	if len(s.Data) != len(want) {
		t.Fatalf("cacerts has %d keys, want %d", len(s.Data), len(want))
	}
	for k, v := range want {
		if !bytes.Equal(s.Data[k], v) {
			t.Fatalf("cacerts[%s] differs from the bundle", k)
		}
	}
}

func TestApplySecretCreatesThenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	ca := mustRoot(t)
	b := mustIntermediate(t, ca, "cluster1")
	c := fakeCluster("cluster1")

	changed, err := ApplySecret(ctx, c, b, dev)
	if err != nil || !changed {
		t.Fatalf("first apply: changed=%v err=%v", changed, err)
	}
	if _, err := c.Clientset.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace %s not created: %v", Namespace, err)
	}
	s := getCacerts(t, c)
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("type %q, want Opaque", s.Type)
	}
	if s.Labels[ManagedByLabel] != "meshconform" || s.Labels[env.EnvLabel] != "dev" {
		t.Errorf("labels %v, want %s=meshconform and %s=dev", s.Labels, ManagedByLabel, env.EnvLabel)
	}
	assertData(t, s, b)

	changed, err = ApplySecret(ctx, c, b, dev)
	if err != nil || changed {
		t.Fatalf("second apply: changed=%v err=%v, want unchanged", changed, err)
	}

	// A new root (trust directory removed) replaces meshconform's own secret and says so.
	b2 := mustIntermediate(t, mustRoot(t), "cluster1")
	changed, err = ApplySecret(ctx, c, b2, dev)
	if err != nil || !changed {
		t.Fatalf("apply with a new root: changed=%v err=%v", changed, err)
	}
	assertData(t, getCacerts(t, c), b2)
}

func TestApplySecretWithExistingNamespace(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	c := fakeCluster("cluster1", ns)
	if changed, err := ApplySecret(context.Background(), c, mustIntermediate(t, mustRoot(t), "cluster1"), dev); err != nil || !changed {
		t.Fatalf("apply into existing namespace: changed=%v err=%v", changed, err)
	}
}

func TestApplySecretRefusesWhenIstiodMadeItsOwnCA(t *testing.T) {
	ctx := context.Background()
	ca := mustRoot(t)
	b := mustIntermediate(t, ca, "cluster1")
	selfSigned := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SelfSignedSecretName, Namespace: Namespace},
		Type:       "istio.io/ca-root",
		Data:       map[string][]byte{"ca-cert.pem": []byte("x")},
	}
	c := fakeCluster("cluster1", selfSigned)
	changed, err := ApplySecret(ctx, c, b, dev)
	if err == nil {
		t.Fatal("applied cacerts although istiod already generated istio-ca-secret")
	}
	if changed || !strings.Contains(err.Error(), "istio-ca-secret") || !strings.Contains(err.Error(), "36723") {
		t.Fatalf("changed=%v err=%v, want an error naming istio-ca-secret and istio#36723", changed, err)
	}
	if _, err := c.Clientset.CoreV1().Secrets(Namespace).Get(ctx, SecretName, metav1.GetOptions{}); err == nil {
		t.Fatal("cacerts was created anyway")
	}

	// When cacerts already matches (istiod was restarted onto it), the leftover is not an error.
	matching := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace, Labels: env.ObjectLabels("dev")},
		Type:       corev1.SecretTypeOpaque,
		Data:       b.SecretData(),
	}
	c = fakeCluster("cluster1", selfSigned.DeepCopy(), matching)
	if changed, err := ApplySecret(ctx, c, b, dev); err != nil || changed {
		t.Fatalf("matching cacerts beside istio-ca-secret: changed=%v err=%v", changed, err)
	}
}

func TestApplySecretRefusesIstioGeneratedCacerts(t *testing.T) {
	b := mustIntermediate(t, mustRoot(t), "cluster1")
	data := b.SecretData()
	data["istio-generated"] = nil
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	c := fakeCluster("cluster1", existing)
	if changed, err := ApplySecret(context.Background(), c, b, dev); err == nil || changed || !strings.Contains(err.Error(), "istio-generated") {
		t.Fatalf("changed=%v err=%v, want refusal naming istio-generated", changed, err)
	}
}

func TestApplySecretKeepsForeignCacerts(t *testing.T) {
	ctx := context.Background()
	theirs := mustIntermediate(t, mustRoot(t), "cluster1")
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       theirs.SecretData(),
	}
	c := fakeCluster("cluster1", existing)
	ours := mustIntermediate(t, mustRoot(t), "cluster1")
	if changed, err := ApplySecret(ctx, c, ours, dev); err == nil || changed || !strings.Contains(err.Error(), ManagedByLabel) ||
		!strings.Contains(err.Error(), env.AdoptFlag) {
		t.Fatalf("changed=%v err=%v, want refusal to replace a cacerts meshconform did not create", changed, err)
	}
	assertData(t, getCacerts(t, c), theirs)
}

func TestApplySecretRejectsAnotherClustersBundle(t *testing.T) {
	b := mustIntermediate(t, mustRoot(t), "cluster2")
	c := fakeCluster("cluster1")
	if _, err := ApplySecret(context.Background(), c, b, dev); err == nil || !strings.Contains(err.Error(), "cluster2") {
		t.Fatalf("err = %v, want a refusal naming the bundle's cluster", err)
	}
}

func TestApplySecretRefusesAnotherEnvironmentsCacerts(t *testing.T) {
	theirs := mustIntermediate(t, mustRoot(t), "cluster1")
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace, Labels: env.ObjectLabels("ci")},
		Type:       corev1.SecretTypeOpaque,
		Data:       theirs.SecretData(),
	}
	c := fakeCluster("cluster1", existing)
	_, err := ApplySecret(context.Background(), c, mustIntermediate(t, mustRoot(t), "cluster1"), dev)
	if err == nil || !strings.Contains(err.Error(), `"ci"`) || !strings.Contains(err.Error(), "istio-system/cacerts") {
		t.Fatalf("err = %v, want a refusal naming cacerts and environment ci", err)
	}
	assertData(t, getCacerts(t, c), theirs)
}

func TestApplySecretAdoptsWhenAsked(t *testing.T) {
	ctx := context.Background()
	theirs := mustIntermediate(t, mustRoot(t), "cluster1")
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace, Labels: map[string]string{"team": "mesh"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       theirs.SecretData(),
	}
	c := fakeCluster("cluster1", existing)
	ours := mustIntermediate(t, mustRoot(t), "cluster1")
	changed, err := ApplySecret(ctx, c, ours, env.Claimant{Env: "dev", Adopt: true})
	if err != nil || !changed {
		t.Fatalf("adopt: changed=%v err=%v", changed, err)
	}
	s := getCacerts(t, c)
	assertData(t, s, ours)
	if !env.OwnerOf(s.Labels).Mine("dev") || s.Labels["team"] != "mesh" {
		t.Errorf("labels %v: want dev's labels beside the ones it had", s.Labels)
	}
}

// A cacerts of meshconform's from before environments had names is this environment's to label; equal
// certificates are not a change (no istiod restart).
func TestApplySecretLabelsAnUnnamedCacerts(t *testing.T) {
	b := mustIntermediate(t, mustRoot(t), "cluster1")
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: Namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Type:       corev1.SecretTypeOpaque,
		Data:       b.SecretData(),
	}
	c := fakeCluster("cluster1", existing)
	if changed, err := ApplySecret(context.Background(), c, b, dev); err != nil || changed {
		t.Fatalf("changed=%v err=%v, want unchanged", changed, err)
	}
	if s := getCacerts(t, c); !env.OwnerOf(s.Labels).Mine("dev") {
		t.Errorf("labels %v, want dev's", s.Labels)
	}
}
