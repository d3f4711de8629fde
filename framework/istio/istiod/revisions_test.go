package istiod

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// loadObjects decodes a testdata file of Deployments and MutatingWebhookConfigurations, as `kubectl get -o yaml`
// prints them.
func loadObjects(t *testing.T, name string) ([]appsv1.Deployment, []admissionv1.MutatingWebhookConfiguration, []runtime.Object) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "revisions", name))
	if err != nil {
		t.Fatal(err)
	}
	var deps []appsv1.Deployment
	var whs []admissionv1.MutatingWebhookConfiguration
	var objs []runtime.Object
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			deps = append(deps, *o)
		case *admissionv1.MutatingWebhookConfiguration:
			whs = append(whs, *o)
		default:
			t.Fatalf("%s: unexpected %T", name, obj)
		}
		objs = append(objs, obj)
	}
	return deps, whs, objs
}

func revisionsOf(t *testing.T, name string) Revisions {
	t.Helper()
	deps, whs, _ := loadObjects(t, name)
	return RevisionsOf(deps, whs)
}

func TestRevisionsOfRealShapes(t *testing.T) {
	r := revisionsOf(t, "canary-upgrade.yaml")
	if len(r.ControlPlanes) != 2 {
		t.Fatalf("control planes = %+v, want default and canary", r.ControlPlanes)
	}
	canary, ok := r.ControlPlane("canary")
	if !ok || canary.Deployment != "istiod-canary" || canary.Injector != "istio-sidecar-injector-canary" ||
		canary.ImageTag != "1.31.0" || strings.Join(canary.Tags, ",") != "prod" {
		t.Errorf("canary = %+v", canary)
	}
	def, ok := r.ControlPlane("")
	if !ok || def.Deployment != "istiod" || def.Injector != "istio-sidecar-injector" || len(def.Tags) != 0 {
		t.Errorf("default = %+v", def)
	}
	if in, ok := r.Injector("prod"); !ok || in.Name != "istio-revision-tag-prod" || in.Revision != "canary" ||
		in.Service != "istio-system/istiod-canary" || in.Path != "/inject" {
		t.Errorf("tag prod = %+v, %v", in, ok)
	}

	remote := revisionsOf(t, "remote-canary.yaml")
	if len(remote.ControlPlanes) != 0 {
		t.Errorf("a remote runs no istiod: %+v", remote.ControlPlanes)
	}
	if in, ok := remote.Injector("canary"); !ok || in.Path != render.InjectionPath("cluster2", "network1") {
		t.Errorf("remote injector = %+v, %v", in, ok)
	}

	helm := revisionsOf(t, "helm-one-revision.yaml")
	if len(helm.Injectors) != 1 {
		t.Errorf("cert-manager's webhook is not an injector: %+v", helm.Injectors)
	}
}

func TestChooseRevision(t *testing.T) {
	for _, tc := range []struct {
		file, requested string
		primary         bool
		want            Target
		note, err       string // substrings; "" none
	}{
		// A fresh istioctl install --revision canary made the default tag: istio-injection=enabled gets canary.
		{file: "istioctl-canary.yaml", primary: true,
			want: Target{Label: "istio-injection", Value: "enabled", Revision: "canary", Tag: "default", Injector: "istio-revision-tag-default"}},
		{file: "istioctl-canary.yaml", requested: "canary", primary: true,
			want: Target{Label: "istio.io/rev", Value: "canary", Revision: "canary", Injector: "istio-sidecar-injector-canary"}},
		{file: "istioctl-canary.yaml", requested: "stable", primary: true,
			err: `cluster1: revision "stable" not found: it runs revision canary (istiod-canary, 1.31-alpha.eed52ebb66ad, tags default)`},
		// The default revision wins when nothing is named; the others are said.
		{file: "canary-upgrade.yaml", primary: true,
			want: Target{Label: "istio-injection", Value: "enabled", Revision: "default", Injector: "istio-sidecar-injector"},
			note: "cluster1 also runs revision canary; testing the default (istio-injection=enabled (revision default))"},
		{file: "canary-upgrade.yaml", requested: "canary", primary: true,
			want: Target{Label: "istio.io/rev", Value: "canary", Revision: "canary", Injector: "istio-sidecar-injector-canary"}},
		// A tag is labelled as the tag, and resolved to its revision.
		{file: "canary-upgrade.yaml", requested: "prod", primary: true,
			want: Target{Label: "istio.io/rev", Value: "prod", Revision: "canary", Tag: "prod", Injector: "istio-revision-tag-prod"}},
		{file: "canary-upgrade.yaml", requested: "default", primary: true,
			want: Target{Label: "istio.io/rev", Value: "default", Revision: "default", Injector: "istio-sidecar-injector"}},
		// One revision, no default: that one, said so.
		{file: "helm-one-revision.yaml", primary: true,
			want: Target{Label: "istio.io/rev", Value: "stable", Revision: "stable", Injector: "istio-sidecar-injector-stable"},
			note: "runs one revision, stable, and no default: test namespaces are labelled istio.io/rev=stable"},
		// Several, no default: an error listing them, and the dangling tag.
		{file: "two-revisions.yaml", primary: true,
			err: "cluster1 runs several istiod revisions and no default revision or tag: it runs revision 1-30 (istiod-1-30, 1.30.3); " +
				"revision 1-31 (istiod-1-31, 1.31.1-distroless); tag old points at revision 1-29, which runs no istiod here; name the one to test with --revision"},
		{file: "two-revisions.yaml", requested: "old", primary: true, err: `revision "old" not found`},
		{file: "two-revisions.yaml", requested: "1-31", primary: true,
			want: Target{Label: "istio.io/rev", Value: "1-31", Revision: "1-31", Injector: "istio-sidecar-injector-1-31-istio-system"}},
		// A remote chooses among its injectors: its istiod runs in the primary.
		{file: "remote-canary.yaml", primary: false,
			want: Target{Label: "istio.io/rev", Value: "canary", Revision: "canary", Injector: "istio-sidecar-injector-canary"},
			note: "one revision, canary"},
		{file: "remote-canary.yaml", requested: "canary", primary: false,
			want: Target{Label: "istio.io/rev", Value: "canary", Revision: "canary", Injector: "istio-sidecar-injector-canary"}},
		// A remote's injector is no istiod for a primary.
		{file: "remote-canary.yaml", primary: true, err: "no istiod in istio-system"},
	} {
		name := tc.file + "/" + tc.requested
		got, note, err := revisionsOf(t, tc.file).Choose("cluster1", tc.requested, tc.primary)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want it to say %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
		if (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("%s: note %q, want %q", name, note, tc.note)
		}
	}
}

func TestDeploymentAndClusterIDByRevision(t *testing.T) {
	ctx := context.Background()
	_, _, objs := loadObjects(t, "canary-upgrade.yaml")
	c := &kube.Client{Name: "cluster1", Clientset: fake.NewClientset(objs...)}
	for rev, want := range map[string]string{"": "istiod", "default": "istiod", "canary": "istiod-canary"} {
		d, err := Deployment(ctx, c, rev)
		if err != nil || d.Name != want {
			t.Errorf("Deployment(%q) = %v, %v; want %s", rev, d, err, want)
		}
	}
	if _, err := Deployment(ctx, c, "stable"); err == nil || !strings.Contains(err.Error(), "no istiod Deployment of revision stable") {
		t.Errorf("Deployment(stable): %v", err)
	}
	if id, err := ClusterID(ctx, c, true, "canary"); err != nil || id != "cluster1" {
		t.Errorf("ClusterID(canary) = %q, %v", id, err)
	}

	_, _, objs = loadObjects(t, "remote-canary.yaml")
	rc := &kube.Client{Name: "cluster2", Clientset: fake.NewClientset(objs...)}
	if id, err := ClusterID(ctx, rc, false, "canary"); err != nil || id != "cluster2" {
		t.Errorf("remote ClusterID(canary) = %q, %v", id, err)
	}
}

func TestTargetString(t *testing.T) {
	for tgt, want := range map[Target]string{
		{Label: "istio.io/rev", Value: "prod", Revision: "canary", Tag: "prod"}: "istio.io/rev=prod (tag prod → revision canary)",
		{Label: "istio.io/rev", Value: "canary", Revision: "canary"}:            "istio.io/rev=canary",
		{Label: "istio-injection", Value: "enabled", Revision: "default"}:       "istio-injection=enabled (revision default)",
	} {
		if got := tgt.String(); got != want {
			t.Errorf("%+v: %q, want %q", tgt, got, want)
		}
	}
}

func TestProxyTag(t *testing.T) {
	for values, want := range map[string]string{
		`{"global":{"hub":"meshconform.io/istio","tag":"1.31-alpha.eed52ebb66ad","proxy":{"image":"proxyv2"}}}`:  "1.31-alpha.eed52ebb66ad",
		`{"global":{"hub":"docker.io/istio","tag":"1.30.2","proxy":{"image":"docker.io/istio/proxyv2:1.29.0"}}}`: "1.29.0",
		`{"global":{"tag":1.24,"proxy":{"image":"proxyv2"}}}`:                                                    "1.24",
		`{"global":{"proxy":{"image":"proxyv2"}}}`:                                                               "",
		`not json`: "",
	} {
		if got := ProxyTag(values); got != want {
			t.Errorf("ProxyTag(%s) = %q, want %q", values, got, want)
		}
	}
}

// During a canary upgrade two istiods run side by side: each revision's checks read its own pods.
func TestRunningPodsOfARevision(t *testing.T) {
	pod := func(name, rev string) *corev1.Pod {
		l := map[string]string{"app": "istiod"}
		if rev != "" {
			l[render.RevisionLabel] = rev
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: render.Namespace, Labels: l},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	c := &kube.Client{Name: "cluster1", Clientset: fake.NewClientset(pod("istiod-7d9f", "default"), pod("istiod-canary-55c8", "canary"),
		pod("istiod-old-1", ""))}
	for rev, want := range map[string]string{"canary": "istiod-canary-55c8", "default": "istiod-7d9f,istiod-old-1",
		"": "istiod-7d9f,istiod-canary-55c8,istiod-old-1", "stable": ""} {
		pods, err := RunningPods(context.Background(), c, rev)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods {
			names = append(names, p.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("RunningPods(%q) = %s, want %s", rev, got, want)
		}
	}
}
