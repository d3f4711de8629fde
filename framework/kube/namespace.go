package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Namespace is what EnsureNamespaceWith makes sure of.
type Namespace struct {
	Name string
	// Labels and Annotations are merged into the namespace whether this call creates it or finds it; keys the
	// namespace has besides them are kept.
	Labels      map[string]string
	Annotations map[string]string
	// CreateLabels are set only when this call creates the namespace: labels that claim it (meshconform.io/managed,
	// which `down` deletes by) must not be put on a namespace someone else made.
	CreateLabels map[string]string
}

// EnsureNamespace creates a namespace with labels, or merges labels into the one that exists.
func (c *Client) EnsureNamespace(ctx context.Context, name string, labels map[string]string) error {
	_, _, err := c.EnsureNamespaceWith(ctx, Namespace{Name: name, Labels: labels})
	return err
}

// EnsureNamespaceWith creates the namespace or merges want's labels and annotations into the existing one, and
// returns it with whether this call created it (a caller may refuse a namespace it did not make). A namespace being
// deleted is an error: nothing can be created in it, and saying so now beats a Forbidden on the first object.
func (c *Client) EnsureNamespaceWith(ctx context.Context, want Namespace) (ns *corev1.Namespace, created bool, err error) {
	nss := c.Clientset.CoreV1().Namespaces()
	ns, err = nss.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		labels := maps.Clone(want.CreateLabels)
		if labels == nil && len(want.Labels) > 0 {
			labels = map[string]string{}
		}
		maps.Copy(labels, want.Labels)
		ns, err = nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: want.Name,
			Labels: labels, Annotations: maps.Clone(want.Annotations)}}, metav1.CreateOptions{FieldManager: FieldManager})
		if err == nil {
			return ns, true, nil
		}
		// Someone else created it between our Get and Create (parallel installs into one cluster).
		if !apierrors.IsAlreadyExists(err) {
			return nil, false, fmt.Errorf("%s: create namespace %s: %w", c.Name, want.Name, err)
		}
		ns, err = nss.Get(ctx, want.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: get namespace %s: %w", c.Name, want.Name, err)
	}
	if ns.DeletionTimestamp != nil {
		return nil, false, fmt.Errorf("%s: namespace %s is being deleted; wait for it to go and run again", c.Name, want.Name)
	}
	if contains(ns.Labels, want.Labels) && contains(ns.Annotations, want.Annotations) {
		return ns, false, nil
	}
	patch, err := metadataPatch(want.Labels, want.Annotations)
	if err != nil {
		return nil, false, fmt.Errorf("%s: namespace %s: %w", c.Name, want.Name, err)
	}
	// A merge patch adds our keys and leaves everyone else's; an Update would race with other writers.
	ns, err = nss.Patch(ctx, want.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return nil, false, fmt.Errorf("%s: label namespace %s: %w", c.Name, want.Name, err)
	}
	return ns, false, nil
}

// metadataPatch is a JSON merge patch setting labels and annotations.
func metadataPatch(labels, annotations map[string]string) ([]byte, error) {
	meta := map[string]any{}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	return json.Marshal(map[string]any{"metadata": meta})
}

// contains reports whether have holds every key of want with the same value.
func contains(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// RemoveNamespaceLabels deletes label keys from a namespace where it has them (a merge patch setting them to null);
// nothing is written when it has none of them.
func (c *Client) RemoveNamespaceLabels(ctx context.Context, name string, keys ...string) error {
	ns, err := c.Clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%s: get namespace %s: %w", c.Name, name, err)
	}
	del := map[string]any{}
	for _, k := range keys {
		if _, ok := ns.Labels[k]; ok {
			del[k] = nil
		}
	}
	if len(del) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": del}})
	if err != nil {
		return err
	}
	if _, err := c.Clientset.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("%s: remove labels %v from namespace %s: %w", c.Name, keys, name, err)
	}
	return nil
}
