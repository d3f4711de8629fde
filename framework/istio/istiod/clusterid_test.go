package istiod

import (
	"context"
	"testing"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

func TestInjectionPathCluster(t *testing.T) {
	for path, want := range map[string]string{
		render.InjectionPath("east-1", "network2"): "east-1",
		"/inject/cluster/c2/net/n2/":               "c2",
		"/inject":                                  "",
		"/inject/cluster/":                         "",
		"/other/cluster/c2/net/n2":                 "",
		"":                                         "",
	} {
		if got := injectionPathCluster(path); got != want {
			t.Errorf("injectionPathCluster(%q) = %q, want %q", path, got, want)
		}
	}
}

// The IDs a preinstalled mesh may use differ from the kubeconfig names; they are read where Istio keeps them.
func TestClusterIDReadsIstiodAndTheRemoteWebhook(t *testing.T) {
	ctx := context.Background()
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: render.Namespace,
		Labels: map[string]string{"app": "istiod", render.RevisionLabel: render.DefaultRevision}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "discovery", Env: []corev1.EnvVar{{Name: "REVISION", Value: "default"}, {Name: "CLUSTER_ID", Value: "prod-east"}}}}}}}}
	path := render.InjectionPath("prod-west", "net-west")
	url := "https://10.0.0.1:15017" + path
	remote := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: render.InjectorWebhook},
		Webhooks: []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io",
			ClientConfig: admissionv1.WebhookClientConfig{URL: &url}}}}
	svcRemote := remote.DeepCopy()
	svcRemote.Webhooks[0].ClientConfig = admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{
		Namespace: render.Namespace, Name: "istiod", Path: &path}}

	for _, tc := range []struct {
		name    string
		obj     runtime.Object
		primary bool
		want    string
	}{
		{"primary", istiod, true, "prod-east"},
		{"remote by URL", remote, false, "prod-west"},
		{"remote by service", svcRemote, false, "prod-west"},
	} {
		c := &kube.Client{Name: "ctx-" + tc.name, Clientset: fake.NewClientset(tc.obj)}
		got, err := ClusterID(ctx, c, tc.primary, render.DefaultRevision)
		if err != nil || got != tc.want {
			t.Errorf("%s: ClusterID = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := ClusterID(ctx, &kube.Client{Name: "empty", Clientset: fake.NewClientset()}, true, ""); err == nil {
		t.Error("no istiod: want an error naming it")
	}
}
