package kube

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestSplitManifest(t *testing.T) {
	m := []byte(`---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: a
  namespace: istio-system
---
# only a comment
---

---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
`)
	objs, err := SplitManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "ServiceAccount" || objs[0].GetNamespace() != "istio-system" ||
		objs[1].GetKind() != "Deployment" || objs[1].GetName() != "b" {
		t.Errorf("objects %v", objs)
	}
	if _, err := SplitManifest([]byte("kind: [unclosed\n")); err == nil {
		t.Error("a malformed document was accepted")
	}
	if objs, err := SplitManifest(nil); err != nil || len(objs) != 0 {
		t.Errorf("empty manifest: %v, %v", objs, err)
	}
}

func TestApplyObjectsServerSideAppliesEachWithForce(t *testing.T) {
	objs, err := SplitManifest([]byte(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: gw}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: other, namespace: elsewhere}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gw-role}
`))
	if err != nil {
		t.Fatal(err)
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	var applied []string
	dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchActionImpl)
		force := p.PatchOptions.Force != nil && *p.PatchOptions.Force
		if p.PatchType != types.ApplyPatchType || p.PatchOptions.FieldManager != FieldManager || !force {
			t.Errorf("%s: patch type %s, options %+v: want a forced server-side apply by %s", p.Name, p.PatchType, p.PatchOptions, FieldManager)
		}
		var body map[string]any
		if err := json.Unmarshal(p.Patch, &body); err != nil || body["kind"] == nil {
			t.Errorf("%s: patch body is not the object: %s", p.Name, p.Patch)
		}
		applied = append(applied, p.Resource.Resource+" "+p.Namespace+"/"+p.Name)
		return true, nil, nil
	})
	if err := applyObjects(context.Background(), dyn, mapper, objs, "istio-system"); err != nil {
		t.Fatal(err)
	}
	want := []string{"serviceaccounts istio-system/gw", "serviceaccounts elsewhere/other", "clusterroles /gw-role"}
	if strings.Join(applied, ", ") != strings.Join(want, ", ") {
		t.Errorf("applied %v, want %v", applied, want)
	}

	unknown, _ := SplitManifest([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"))
	if err := applyObjects(context.Background(), dyn, mapper, unknown, "istio-system"); err == nil ||
		!strings.Contains(err.Error(), "Widget w") {
		t.Errorf("unknown kind: err = %v, want one naming the object", err)
	}
}

func lbService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-lb", Namespace: "istio-system", Labels: map[string]string{"meshconform.io/managed": "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "istiod"},
			Ports: []corev1.ServicePort{
				{Name: "grpc-xds", Port: 15012, TargetPort: intstr.FromInt32(15012)},
				{Name: "https-webhook", Port: 15017, TargetPort: intstr.FromInt32(15017)},
			}},
	}
}

func TestApplyServiceKeepsWhatTheServerAllocated(t *testing.T) {
	ctx := context.Background()
	c, cs := fakeClient()
	if err := c.ApplyService(ctx, lbService()); err != nil {
		t.Fatal(err)
	}
	svcs := cs.CoreV1().Services("istio-system")
	// What the API server and others add: addresses, node ports, a controller's annotation.
	s, _ := svcs.Get(ctx, "istiod-lb", metav1.GetOptions{})
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.255.10.7", []string{"10.255.10.7"}
	s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 31012, 31017
	s.Annotations = map[string]string{"metallb.io/ip-allocated-from-pool": "meshconform"}
	if _, err := svcs.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	if err := c.ApplyService(ctx, lbService()); err != nil {
		t.Fatal(err)
	}
	if w := writes(cs); len(w) != 0 {
		t.Errorf("re-applying an unchanged Service wrote %v", w)
	}

	// A changed port list is written, without moving the addresses or the surviving port's node port.
	want := lbService()
	want.Spec.Ports = append(want.Spec.Ports[:1], corev1.ServicePort{Name: "tls", Port: 15443, TargetPort: intstr.FromInt32(15443)})
	want.Labels["extra"] = "1"
	if err := c.ApplyService(ctx, want); err != nil {
		t.Fatal(err)
	}
	s, _ = svcs.Get(ctx, "istiod-lb", metav1.GetOptions{})
	if s.Spec.ClusterIP != "10.255.10.7" || len(s.Spec.ClusterIPs) != 1 {
		t.Errorf("cluster IP moved: %q %v", s.Spec.ClusterIP, s.Spec.ClusterIPs)
	}
	if len(s.Spec.Ports) != 2 || s.Spec.Ports[0].NodePort != 31012 || s.Spec.Ports[1].Port != 15443 || s.Spec.Ports[1].NodePort != 0 {
		t.Errorf("ports %+v", s.Spec.Ports)
	}
	if s.Annotations["metallb.io/ip-allocated-from-pool"] != "meshconform" || s.Labels["extra"] != "1" ||
		s.Labels["meshconform.io/managed"] != "true" {
		t.Errorf("labels %v annotations %v", s.Labels, s.Annotations)
	}

	// A selector or type change is written too; a ClusterIP Service has no node ports to keep.
	want = lbService()
	want.Spec.Type = ""
	want.Spec.Selector = map[string]string{"app": "istiod", "rev": "b"}
	if err := c.ApplyService(ctx, want); err != nil {
		t.Fatal(err)
	}
	s, _ = svcs.Get(ctx, "istiod-lb", metav1.GetOptions{})
	if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.Selector["rev"] != "b" || s.Spec.Ports[0].NodePort != 0 {
		t.Errorf("type %s selector %v ports %+v", s.Spec.Type, s.Spec.Selector, s.Spec.Ports)
	}
}

func TestSamePortsDefaultsProtocol(t *testing.T) {
	have := []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}}
	if !samePorts(have, []corev1.ServicePort{{Name: "http", Port: 80}}) {
		t.Error("the server's TCP default and allocated node port count as a difference: every re-run would write")
	}
	if samePorts(have, []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolUDP}}) {
		t.Error("a protocol change is not seen")
	}
	app := "kubernetes.io/h2c"
	if samePorts(have, []corev1.ServicePort{{Name: "http", Port: 80, AppProtocol: &app}}) {
		t.Error("an appProtocol change is not seen")
	}
	if samePorts(have, []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30081}}) {
		t.Error("a pinned node port change is not seen")
	}
}
