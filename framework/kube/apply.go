package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// SplitManifest decodes a multi-document YAML stream into objects, skipping empty documents and documents without
// a kind (comment-only documents that renderers such as `istioctl manifest generate` emit).
func SplitManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest document %d: %w", len(objs)+1, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("decode manifest document: %w", err)
		}
		if len(u.Object) == 0 || u.GetKind() == "" {
			continue
		}
		objs = append(objs, u)
	}
}

// ApplyManifest server-side applies every object of a multi-document manifest, as `kubectl apply --server-side
// --force-conflicts` does; namespaced objects without a namespace go to defaultNamespace. Forcing conflicts is
// deliberate: meshconform owns what it renders, and a field another manager set (an earlier client-side apply) must
// not stop a re-run.
func (c *Client) ApplyManifest(ctx context.Context, manifest []byte, defaultNamespace string) error {
	objs, err := SplitManifest(manifest)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errors.New("the manifest holds no objects")
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("%s: dynamic client: %w", c.Name, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Clientset.Discovery()))
	return applyObjects(ctx, dyn, mapper, objs, defaultNamespace)
}

func applyObjects(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, objs []*unstructured.Unstructured, defaultNamespace string) error {
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := u.GetNamespace()
			if ns == "" {
				ns = defaultNamespace
				u.SetNamespace(ns)
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		data, err := u.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", gvk.Kind, u.GetName(), err)
		}
		force := true
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

// ApplyService creates a Service, or updates the one that exists when its type, selector, ports, labels or
// annotations differ from want. It keeps what the API server allocated (cluster IPs, IP families, node ports that
// want leaves unset) and labels and annotations others added, so a re-run neither moves the Service's addresses nor
// strips another controller's marks (MetalLB's, a cloud's).
//
// Two copies used to differ: one updated only type, selector and ports, the other replaced the whole object. Both
// callers want "make the fields we set match", which this does; neither relied on the rest being replaced.
func (c *Client) ApplyService(ctx context.Context, want *corev1.Service) error {
	where := fmt.Sprintf("%s: service %s/%s", c.Name, want.Namespace, want.Name)
	svcs := c.Clientset.CoreV1().Services(want.Namespace)
	have, err := svcs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := svcs.Create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("%s: create: %w", where, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: get: %w", where, err)
	}
	next, changed := mergeService(have, want)
	if !changed {
		return nil
	}
	if _, err := svcs.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("%s: update: %w", where, err)
	}
	return nil
}

// mergeService is have with want's type, selector, ports, labels and annotations, and whether that differs from
// have.
func mergeService(have, want *corev1.Service) (*corev1.Service, bool) {
	next := have.DeepCopy()
	changed := false
	if !contains(have.Labels, want.Labels) {
		if next.Labels == nil {
			next.Labels = map[string]string{}
		}
		maps.Copy(next.Labels, want.Labels)
		changed = true
	}
	if !contains(have.Annotations, want.Annotations) {
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		maps.Copy(next.Annotations, want.Annotations)
		changed = true
	}
	wantType := serviceType(want)
	if serviceType(have) != wantType {
		next.Spec.Type = wantType
		changed = true
	}
	if !maps.Equal(have.Spec.Selector, want.Spec.Selector) {
		next.Spec.Selector = maps.Clone(want.Spec.Selector)
		changed = true
	}
	if !samePorts(have.Spec.Ports, want.Spec.Ports) {
		next.Spec.Ports = mergePorts(have.Spec.Ports, want.Spec.Ports, wantType)
		changed = true
	}
	return next, changed
}

// samePorts compares the fields meshconform sets; the server defaults protocol to TCP and allocates node ports.
func samePorts(have, want []corev1.ServicePort) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range want {
		h, w := have[i], want[i]
		if h.Name != w.Name || h.Port != w.Port || h.TargetPort != w.TargetPort || protocol(h) != protocol(w) ||
			!equalPtr(h.AppProtocol, w.AppProtocol) || (w.NodePort != 0 && h.NodePort != w.NodePort) {
			return false
		}
	}
	return true
}

// mergePorts is want's ports, keeping the node port allocated to a port want does not pin, so that a client of the
// node port (or a load balancer in front of it) is not cut off by a re-run.
func mergePorts(have, want []corev1.ServicePort, typ corev1.ServiceType) []corev1.ServicePort {
	out := append([]corev1.ServicePort(nil), want...)
	if typ != corev1.ServiceTypeNodePort && typ != corev1.ServiceTypeLoadBalancer {
		return out
	}
	for i := range out {
		if out[i].NodePort != 0 {
			continue
		}
		for _, h := range have {
			if h.Port == out[i].Port && protocol(h) == protocol(out[i]) {
				out[i].NodePort = h.NodePort
			}
		}
	}
	return out
}

// serviceType is the Service's type with the server's default applied.
func serviceType(s *corev1.Service) corev1.ServiceType {
	if s.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return s.Spec.Type
}

func protocol(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
