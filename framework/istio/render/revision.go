package render

import (
	"fmt"

	"github.com/meshconform/meshconform/framework/topology"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Revisions: Istio names what a revisioned control plane installs after its revision (the istiod chart's
// `istiod{{ if .Values.revision }}-{{ .Values.revision }}{{ end }}`), labels it istio.io/rev=<revision> ("default"
// for the unrevisioned one), and selects namespaces for injection by istio.io/rev=<revision or tag>, or, for the
// default revision or the default tag, istio-injection=enabled. A revision tag is a MutatingWebhookConfiguration
// istio-revision-tag-<tag> labelled istio.io/tag=<tag> and istio.io/rev=<the revision it points at>.
const (
	// RevisionLabel is on istiod's Deployment, pods and webhooks, and on namespaces whose pods a revision (or a tag)
	// injects.
	RevisionLabel = "istio.io/rev"
	// TagLabel marks a revision tag's MutatingWebhookConfiguration.
	TagLabel = "istio.io/tag"
	// DefaultRevision is the revision label of the unrevisioned control plane, and the tag istio-injection=enabled
	// namespaces follow.
	DefaultRevision = "default"
	// InjectionLabel=InjectionEnabled selects the default revision (or the default tag) for a namespace; it takes
	// precedence over istio.io/rev.
	InjectionLabel   = "istio-injection"
	InjectionEnabled = "enabled"
	// InjectorApp is the app label of every sidecar injector MutatingWebhookConfiguration (revisions' and tags').
	InjectorApp = "sidecar-injector"
	// IstiodApp is the app label of istiod Deployments and pods, whatever their revision.
	IstiodApp = "istiod"
	// SidecarStatusAnnotation is the annotation the injector writes on every pod it injects; its JSON names the
	// injecting revision ("revision").
	SidecarStatusAnnotation = "sidecar.istio.io/status"
)

// IsDefaultRevision says whether rev names the unrevisioned control plane.
func IsDefaultRevision(rev string) bool { return rev == "" || rev == DefaultRevision }

func revisioned(base, rev string) string {
	if IsDefaultRevision(rev) {
		return base
	}
	return base + "-" + rev
}

// IstiodName is the Deployment and Service of a revision's istiod: istiod, istiod-<revision>.
func IstiodName(rev string) string { return revisioned("istiod", rev) }

// InjectorWebhookName is a revision's own injection MutatingWebhookConfiguration: istio-sidecar-injector[-<rev>].
func InjectorWebhookName(rev string) string { return revisioned(InjectorWebhook, rev) }

// MeshConfigName is a revision's mesh config ConfigMap: istio, istio-<revision>.
func MeshConfigName(rev string) string { return revisioned("istio", rev) }

// InjectorConfigName is a revision's injection templates and values ConfigMap: istio-sidecar-injector[-<rev>].
func InjectorConfigName(rev string) string { return revisioned(InjectorWebhook, rev) }

// IstiodHost is a revision's istiod Service host in the cluster domain.
func IstiodHost(rev string) string { return IstiodName(rev) + "." + Namespace + ".svc.cluster.local" }

// maxRevision leaves room for the longest name built from a revision (istio-sidecar-injector-<rev>) within a DNS
// label's 63 (topology.MaxRevision, which validates the topology's field).
const maxRevision = topology.MaxRevision

// ValidateRevision checks a revision or tag name as Istio uses it: a label value that is also a DNS label, since
// Deployments, Services and webhooks are named after it. what names the field or flag for the message.
func ValidateRevision(what, rev string) error {
	if rev == "" {
		return nil
	}
	if len(rev) > maxRevision {
		return fmt.Errorf("%s %q: at most %d characters (%s-<revision> must be a DNS label)", what, rev, maxRevision, InjectorWebhook)
	}
	if errs := validation.IsDNS1123Label(rev); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a DNS label: use lowercase letters, digits and '-', starting and ending with a "+
			"letter or digit (Istio names istiod-<revision> and its webhooks after it), e.g. canary or 1-31-0", what, rev)
	}
	return nil
}
