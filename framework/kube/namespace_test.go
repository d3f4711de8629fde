package kube

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func fakeClient(objs ...runtime.Object) (*Client, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &Client{Name: "cluster1", Clientset: cs}, cs
}

func writes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestEnsureNamespaceCreates(t *testing.T) {
	ctx := context.Background()
	c, cs := fakeClient()
	ns, created, err := c.EnsureNamespaceWith(ctx, Namespace{Name: "istio-system",
		Labels: map[string]string{"topology.istio.io/network": "network2"}, Annotations: map[string]string{"a": "b"},
		CreateLabels: map[string]string{"meshconform.io/managed": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a namespace that did not exist")
	}
	got, _ := cs.CoreV1().Namespaces().Get(ctx, "istio-system", metav1.GetOptions{})
	if got.Labels["topology.istio.io/network"] != "network2" || got.Labels["meshconform.io/managed"] != "true" ||
		got.Annotations["a"] != "b" {
		t.Errorf("created with labels %v annotations %v", got.Labels, got.Annotations)
	}
	if ns.Name != "istio-system" {
		t.Errorf("returned %q", ns.Name)
	}
}

func TestEnsureNamespaceMergesIntoSomeoneElses(t *testing.T) {
	ctx := context.Background()
	c, cs := fakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system",
		Labels: map[string]string{"x": "y", "topology.istio.io/network": "old"}}})
	_, created, err := c.EnsureNamespaceWith(ctx, Namespace{Name: "istio-system",
		Labels:       map[string]string{"topology.istio.io/network": "network1"},
		CreateLabels: map[string]string{"meshconform.io/managed": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for an existing namespace")
	}
	got, _ := cs.CoreV1().Namespaces().Get(ctx, "istio-system", metav1.GetOptions{})
	if got.Labels["topology.istio.io/network"] != "network1" || got.Labels["x"] != "y" {
		t.Errorf("labels after merge %v", got.Labels)
	}
	// The namespace is not ours: claiming it would let `down` delete someone's istio-system.
	if _, ok := got.Labels["meshconform.io/managed"]; ok {
		t.Errorf("a namespace this call did not create got the create-only label: %v", got.Labels)
	}
}

func TestEnsureNamespaceWritesNothingWhenInPlace(t *testing.T) {
	ctx := context.Background()
	c, cs := fakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "echo",
		Labels: map[string]string{"istio-injection": "enabled", "other": "1"}}})
	if err := c.EnsureNamespace(ctx, "echo", map[string]string{"istio-injection": "enabled"}); err != nil {
		t.Fatal(err)
	}
	if w := writes(cs); len(w) != 0 {
		t.Errorf("writes to a namespace already as wanted: %v", w)
	}
}

func TestEnsureNamespaceRefusesATerminatingOne(t *testing.T) {
	ctx := context.Background()
	c, _ := fakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "echo",
		DeletionTimestamp: &metav1.Time{}, Finalizers: []string{"kubernetes"}}})
	err := c.EnsureNamespace(ctx, "echo", nil)
	if err == nil || !strings.Contains(err.Error(), "being deleted") || !strings.Contains(err.Error(), "cluster1") {
		t.Errorf("err = %v, want one naming the cluster and the deletion", err)
	}
}

func TestEnsureNamespaceLosesTheCreateRace(t *testing.T) {
	ctx := context.Background()
	c, cs := fakeClient()
	// Another installer creates the namespace between our Get and Create.
	cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace).DeepCopy()
		ns.Labels = map[string]string{"theirs": "true"}
		if err := cs.Tracker().Add(ns); err != nil {
			t.Fatal(err)
		}
		return false, nil, nil // the default reactor now answers AlreadyExists
	})
	_, created, err := c.EnsureNamespaceWith(ctx, Namespace{Name: "echo", Labels: map[string]string{"ours": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{})
	if created || got.Labels["ours"] != "true" || got.Labels["theirs"] != "true" {
		t.Errorf("created %v, labels %v", created, got.Labels)
	}
}
