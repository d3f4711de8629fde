package workload

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
)

var canary = env.Injection{Label: env.RevisionLabel, Value: "canary", Revision: "canary", Webhook: "istio-sidecar-injector-canary"}

// A revisioned environment labels its namespace istio.io/rev=<revision> and drops istio-injection, which would take
// precedence; switching back drops istio.io/rev. Others' labels stay.
func TestDeployLabelsTheNamespaceForTheRevision(t *testing.T) {
	ctx := context.Background()
	c := fakeClient()
	s := Spec{Image: "img:1", Cluster: "cluster1", Version: "v1", Env: "dev"}
	if err := Deploy(ctx, c, s); err != nil {
		t.Fatal(err)
	}
	label := func() map[string]string {
		ns, err := c.Clientset.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ns.Labels
	}
	if l := label(); l[InjectionLabel] != "enabled" || l[RevisionLabel] != "" {
		t.Fatalf("default: %v", l)
	}
	s.Injection = canary
	if err := Deploy(ctx, c, s); err != nil {
		t.Fatal(err)
	}
	if l := label(); l[RevisionLabel] != "canary" || l[InjectionLabel] != "" || !env.OwnerOf(l).Mine("dev") {
		t.Errorf("revision canary: %v", l)
	}
	s.Injection = env.Injection{Label: env.RevisionLabel, Value: "prod", Revision: "canary", Tag: "prod"}
	if err := Deploy(ctx, c, s); err != nil {
		t.Fatal(err)
	}
	if l := label(); l[RevisionLabel] != "prod" {
		t.Errorf("tag prod: %v", l)
	}
	s.Injection = env.Injection{}
	if err := Deploy(ctx, c, s); err != nil {
		t.Fatal(err)
	}
	if l := label(); l[InjectionLabel] != "enabled" || l[RevisionLabel] != "" {
		t.Errorf("back to the default: %v", l)
	}
}

// injected is a pod as the injector leaves it: its sidecar.istio.io/status, as istiod writes it (revision included).
func injected(name, rev string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "echo"}}
	if rev != "" {
		p.Annotations = map[string]string{SidecarStatusAnnotation: `{"initContainers":null,"containers":["istio-proxy"],` +
			`"volumes":["workload-socket","credential-socket","workload-certs","istio-xds","istio-data","istio-envoy",` +
			`"istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"` + rev + `"}`}
	}
	return p
}

func TestInjectionProblems(t *testing.T) {
	ns := func(labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "echo", Labels: labels}}
	}
	def := env.Injection{}
	for _, tc := range []struct {
		name   string
		ns     *corev1.Namespace
		pods   []corev1.Pod
		want   env.Injection
		expect []string // substrings, one per problem, in order
	}{
		{"default healthy", ns(map[string]string{"istio-injection": "enabled"}),
			[]corev1.Pod{injected("client-1", "default"), injected("echo-v1-1", "default")}, def, nil},
		{"istio.io/rev=default selects the default too", ns(map[string]string{"istio.io/rev": "default"}),
			[]corev1.Pod{injected("client-1", "default")}, def, nil},
		{"canary healthy", ns(map[string]string{"istio.io/rev": "canary"}),
			[]corev1.Pod{injected("client-1", "canary")}, canary, nil},
		{"tag: label is the tag, pods say the revision", ns(map[string]string{"istio.io/rev": "prod"}),
			[]corev1.Pod{injected("client-1", "canary")}, env.Injection{Label: env.RevisionLabel, Value: "prod", Revision: "canary", Tag: "prod"}, nil},
		{"label missing", ns(map[string]string{"team": "x"}),
			[]corev1.Pod{injected("client-1", "canary")}, canary,
			[]string{"namespace echo has no istio.io/rev label (wants istio.io/rev=canary): nothing injects it"}},
		{"wrong revision, pods restarted under it", ns(map[string]string{"istio.io/rev": "stable"}),
			[]corev1.Pod{injected("echo-v1-1", "stable"), injected("client-1", "")}, canary,
			[]string{"namespace echo carries istio.io/rev=stable, not istio.io/rev=canary",
				"pod client-1 was not injected", "pod echo-v1-1 was injected by revision stable, not canary"}},
		{"istio-injection beside the revision wins", ns(map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"}),
			[]corev1.Pod{injected("client-1", "canary")}, canary,
			[]string{"carries istio-injection=enabled, which takes precedence over istio.io/rev and selects the default revision: revision canary does not inject it"}},
		{"injection disabled", ns(map[string]string{"istio-injection": "disabled"}), nil, def,
			[]string{"namespace echo carries istio-injection=disabled, not istio-injection=enabled"}},
		{"default wanted, canary labelled", ns(map[string]string{"istio.io/rev": "canary"}),
			[]corev1.Pod{injected("client-1", "canary")}, def,
			[]string{"carries istio.io/rev=canary, not istio-injection=enabled", "pod client-1 was injected by revision canary, not default"}},
	} {
		got := InjectionProblems(tc.ns, tc.pods, tc.want)
		if len(got) != len(tc.expect) {
			t.Errorf("%s: %d problems %q, want %d", tc.name, len(got), got, len(tc.expect))
			continue
		}
		for i, e := range tc.expect {
			if !strings.Contains(got[i], e) {
				t.Errorf("%s: problem %d %q, want it to say %q", tc.name, i, got[i], e)
			}
		}
	}
}

func TestFixInjection(t *testing.T) {
	got := FixInjection("kind-c1", "echo", canary)
	want := []string{"kubectl --context kind-c1 label namespace echo --overwrite istio.io/rev=canary istio-injection-",
		"kubectl --context kind-c1 -n echo rollout restart deployment"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
