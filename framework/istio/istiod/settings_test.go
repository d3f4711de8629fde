package istiod

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

func istioSystem(network string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: render.Namespace, Labels: map[string]string{render.NetworkLabel: network}}}
}

// A primary of revision canary: its mesh config istio-canary, its istiod's revision and version, the proxy its
// injector config injects.
func TestReadSettingsOfARevisionedPrimary(t *testing.T) {
	_, _, objs := loadObjects(t, "canary-upgrade.yaml")
	objs = append(objs, istioSystem("network1"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-canary", Namespace: render.Namespace},
			Data: map[string]string{"mesh": "defaultConfig:\n  meshId: mesh1\ntrustDomain: cluster.local\n"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: render.Namespace},
			Data: map[string]string{"mesh": "defaultConfig:\n  meshId: old-mesh\n"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-canary", Namespace: render.Namespace},
			Data: map[string]string{"values": `{"global":{"hub":"docker.io/istio","tag":"1.31.0","proxy":{"image":"proxyv2"}},"revision":"canary"}`}})
	c := &kube.Client{Name: "cluster1", Clientset: fake.NewClientset(objs...)}
	s, err := ReadSettings(context.Background(), c, true, "canary")
	if err != nil {
		t.Fatal(err)
	}
	if s.MeshID != "mesh1" || s.Revision != "canary" || s.Version != "1.31.0" || s.ProxyVersion != "1.31.0" || s.ClusterID != "cluster1" {
		t.Errorf("canary settings %+v", s)
	}
	d, err := ReadSettings(context.Background(), c, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.MeshID != "old-mesh" || d.Revision != "default" || d.Version != "1.30.2" || d.ProxyVersion != "" {
		t.Errorf("default settings %+v", d)
	}
}

// A remote's injector: the remote profile's selectorless Service is its primary's istiod; a Service selecting local
// pods is a local injector, whose version is read from them.
func TestReadSettingsFindsARemotesInjector(t *testing.T) {
	_, _, objs := loadObjects(t, "remote-canary.yaml")
	remoteSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istiod-canary", Namespace: render.Namespace}}
	c := &kube.Client{Name: "cluster2", Clientset: fake.NewClientset(append([]runtime.Object{istioSystem("network1"), remoteSvc}, objs...)...)}
	s, err := ReadSettings(context.Background(), c, false, "canary")
	if err != nil {
		t.Fatal(err)
	}
	if !s.InjectorFromPrimary || !strings.Contains(s.Injector, "istio-system/istiod-canary") || s.ClusterID != "cluster2" {
		t.Errorf("remote settings %+v", s)
	}

	local := remoteSvc.DeepCopy()
	local.Spec.Selector = map[string]string{"app": "istiod", render.RevisionLabel: "canary"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-canary-5f7d", Namespace: render.Namespace, Labels: local.Spec.Selector},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.29.4"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	c = &kube.Client{Name: "cluster2", Clientset: fake.NewClientset(append([]runtime.Object{istioSystem("network1"), local, pod}, objs...)...)}
	s, err = ReadSettings(context.Background(), c, false, "canary")
	if err != nil {
		t.Fatal(err)
	}
	if s.InjectorFromPrimary || s.InjectorVersion != "1.29.4" || !strings.Contains(s.Injector, "local pods") {
		t.Errorf("local injector settings %+v", s)
	}
}
