package istiod

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// ControlPlane is one istiod revision a cluster runs: its Deployment and what points at it.
type ControlPlane struct {
	// Revision is the Deployment's istio.io/rev ("default" for the unrevisioned istiod, and for one without the label).
	Revision string
	// Deployment is its name in istio-system (istiod, istiod-<revision>, or whatever an operator named it).
	Deployment string
	// Image is its discovery container's image; ImageTag that image's tag.
	Image, ImageTag string
	// Injector is the revision's own injection MutatingWebhookConfiguration ("" when there is none).
	Injector string
	// Tags are the revision tags pointing at it.
	Tags []string
}

// Injector is one sidecar injector MutatingWebhookConfiguration: a revision's own or a revision tag's.
type Injector struct {
	Name string
	// Revision is the revision it injects for (its istio.io/rev label); Tag its istio.io/tag ("" for a revision's own).
	Revision, Tag string
	// Service (namespace/name) or URL is what its webhooks call, with Path (e.g. /inject/cluster/c2/net/n2).
	Service, URL, Path string
}

// Revisions is what a cluster runs of Istio's control plane: istiod Deployments (primaries; a remote whose
// injection is local has one too) and injection webhooks (every cluster with injection).
type Revisions struct {
	ControlPlanes []ControlPlane // ordered by revision
	Injectors     []Injector     // ordered by name
}

// ReadRevisions lists a cluster's istiod Deployments (app=istiod in istio-system) and sidecar injector webhooks
// (app=sidecar-injector, cluster-scoped).
func ReadRevisions(ctx context.Context, c *kube.Client) (Revisions, error) {
	deps, err := c.Clientset.AppsV1().Deployments(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + render.IstiodApp})
	if err != nil {
		return Revisions{}, fmt.Errorf("%s: list istiod Deployments in %s: %w", c.Name, render.Namespace, err)
	}
	whs, err := c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: "app=" + render.InjectorApp})
	if err != nil {
		return Revisions{}, fmt.Errorf("%s: list sidecar injector MutatingWebhookConfigurations: %w", c.Name, err)
	}
	return RevisionsOf(deps.Items, whs.Items), nil
}

// RevisionsOf reads the revisions out of istiod Deployments and injector webhooks as Istio's charts, istioctl and
// sail-operator label them. Objects not labelled as Istio's (app=istiod, app=sidecar-injector) or outside
// istio-system are ignored.
func RevisionsOf(deps []appsv1.Deployment, whs []admissionv1.MutatingWebhookConfiguration) Revisions {
	var r Revisions
	for _, w := range whs {
		if w.Labels["app"] != render.InjectorApp {
			continue
		}
		in := Injector{Name: w.Name, Revision: revisionOf(w.Labels), Tag: w.Labels[render.TagLabel]}
		for _, h := range w.Webhooks {
			cc := h.ClientConfig
			switch {
			case cc.Service != nil:
				in.Service = cc.Service.Namespace + "/" + cc.Service.Name
				if cc.Service.Path != nil {
					in.Path = *cc.Service.Path
				}
			case cc.URL != nil:
				in.URL = *cc.URL
				if u, err := url.Parse(*cc.URL); err == nil {
					in.Path = u.Path
				}
			}
			if in.Service != "" || in.URL != "" {
				break
			}
		}
		r.Injectors = append(r.Injectors, in)
	}
	sort.Slice(r.Injectors, func(i, j int) bool { return r.Injectors[i].Name < r.Injectors[j].Name })
	for _, d := range deps {
		if d.Namespace != render.Namespace || d.Labels["app"] != render.IstiodApp {
			continue
		}
		cp := ControlPlane{Revision: revisionOf(d.Labels), Deployment: d.Name}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if ctr.Name == "discovery" {
				cp.Image, cp.ImageTag = ctr.Image, imageTag(ctr.Image)
			}
		}
		for _, in := range r.Injectors {
			switch {
			case in.Revision != cp.Revision:
			case in.Tag != "":
				cp.Tags = append(cp.Tags, in.Tag)
			case cp.Injector == "":
				cp.Injector = in.Name
			}
		}
		r.ControlPlanes = append(r.ControlPlanes, cp)
	}
	sort.Slice(r.ControlPlanes, func(i, j int) bool { return r.ControlPlanes[i].Revision < r.ControlPlanes[j].Revision })
	return r
}

// revisionOf is an object's istio.io/rev, "default" when it has none (installs from before revisions).
func revisionOf(labels map[string]string) string {
	if rev := labels[render.RevisionLabel]; rev != "" {
		return rev
	}
	return render.DefaultRevision
}

// ControlPlane returns the control plane of a revision.
func (r Revisions) ControlPlane(rev string) (ControlPlane, bool) {
	if rev == "" {
		rev = render.DefaultRevision
	}
	for _, cp := range r.ControlPlanes {
		if cp.Revision == rev {
			return cp, true
		}
	}
	return ControlPlane{}, false
}

// Injector returns the injector webhook a namespace labelled for name (a tag or a revision) is injected by: the tag's
// webhook if name is a tag, else the revision's own. Istio refuses a tag named like an existing revision, except
// "default": the default tag's webhook serves istio-injection=enabled in place of the default revision's (istioctl
// deactivates the latter when it sets the tag), so a tag wins.
func (r Revisions) Injector(name string) (Injector, bool) {
	if name == "" {
		name = render.DefaultRevision
	}
	for _, in := range r.Injectors {
		if in.Tag == name {
			return in, true
		}
	}
	for _, in := range r.Injectors {
		if in.Tag == "" && in.Revision == name {
			return in, true
		}
	}
	return Injector{}, false
}

// Target is how the test workloads of one cluster get injected by the revision under test.
type Target struct {
	// Label=Value is the namespace label selecting the injector: istio-injection=enabled for the default, or
	// istio.io/rev=<revision or tag>.
	Label, Value string
	// Revision is the istiod revision that injects and configures the workloads (a tag resolved): "default" for the
	// default revision.
	Revision string
	// Tag is the revision tag the label names, when it names one.
	Tag string
	// Injector is the MutatingWebhookConfiguration that injects them.
	Injector string
}

// String is e.g. `istio.io/rev=prod (tag prod → revision canary)`.
func (t Target) String() string {
	s := t.Label + "=" + t.Value
	switch {
	case t.Tag != "":
		s += " (tag " + t.Tag + " → revision " + t.Revision + ")"
	case t.Label == render.InjectionLabel:
		s += " (revision " + t.Revision + ")"
	}
	return s
}

// Choose picks how a cluster's test workloads are injected. requested is the revision or tag the user named ("" for
// none). A primary chooses among its istiod revisions (a revision or tag without a running istiod here is refused);
// a remote among its injector webhooks, whose istiod runs in its primary.
//
// With nothing requested: the default revision or default tag when the cluster has one (istio-injection=enabled,
// what a user's own namespaces use), else the only revision there is (istio.io/rev=<it>: a mesh installed with one
// revision and no default tag, as helm or sail-operator leave it, has one control plane that could be meant), else
// an error listing the revisions to choose from. note says what was chosen and why, when it was not asked for.
func (r Revisions) Choose(cluster, requested string, primary bool) (t Target, note string, err error) {
	revs := r.injectableRevisions(primary)
	if requested != "" {
		in, ok := r.Injector(requested)
		if !ok || !slices.Contains(revs, in.Revision) {
			return Target{}, "", fmt.Errorf("%s: revision %q not found: %s", cluster, requested, r.describe(primary))
		}
		t := Target{Label: render.RevisionLabel, Value: requested, Revision: in.Revision, Tag: in.Tag, Injector: in.Name}
		return t, "", nil
	}
	if in, ok := r.Injector(render.DefaultRevision); ok && slices.Contains(revs, in.Revision) {
		t := Target{Label: render.InjectionLabel, Value: render.InjectionEnabled, Revision: in.Revision, Tag: in.Tag, Injector: in.Name}
		if others := slices.DeleteFunc(slices.Clone(revs), func(s string) bool { return s == in.Revision }); len(others) > 0 {
			note = fmt.Sprintf("%s also runs revision %s; testing the default (%s): --revision names another",
				cluster, strings.Join(others, ", "), t)
		}
		return t, note, nil
	}
	switch len(revs) {
	case 0:
		if primary {
			return Target{}, "", fmt.Errorf("%s: no istiod in %s (no Deployment labelled app=istiod with an injection "+
				"webhook labelled app=sidecar-injector): Istio's control plane is not installed (use --installer istioctl to install it)",
				cluster, render.Namespace)
		}
		return Target{}, "", fmt.Errorf("%s: remote has no sidecar injector MutatingWebhookConfiguration (labelled "+
			"app=sidecar-injector): the remote profile is not installed", cluster)
	case 1:
		in, _ := r.Injector(revs[0])
		t := Target{Label: render.RevisionLabel, Value: revs[0], Revision: revs[0], Injector: in.Name}
		return t, fmt.Sprintf("%s runs one revision, %s, and no default: test namespaces are labelled %s=%s",
			cluster, revs[0], render.RevisionLabel, revs[0]), nil
	}
	return Target{}, "", fmt.Errorf("%s runs several istiod revisions and no default revision or tag: %s; name the one to "+
		"test with --revision (or the topology's spec.mesh.revision)", cluster, r.describe(primary))
}

// injectableRevisions are the revisions whose own injector (or a tag's) exists and, on a primary, whose istiod runs
// here; ordered.
func (r Revisions) injectableRevisions(primary bool) []string {
	var out []string
	for _, in := range r.Injectors {
		if slices.Contains(out, in.Revision) {
			continue
		}
		if _, ok := r.ControlPlane(in.Revision); primary && !ok {
			continue
		}
		out = append(out, in.Revision)
	}
	sort.Strings(out)
	return out
}

// describe lists what the cluster runs, for errors: revisions with their istiod and tags, and tags pointing nowhere.
func (r Revisions) describe(primary bool) string {
	var parts []string
	for _, rev := range r.injectableRevisions(primary) {
		p := "revision " + rev
		var what []string
		if cp, ok := r.ControlPlane(rev); ok {
			what = append(what, cp.Deployment)
			if cp.ImageTag != "" {
				what = append(what, cp.ImageTag)
			}
		}
		var tags []string
		for _, in := range r.Injectors {
			if in.Tag != "" && in.Revision == rev {
				tags = append(tags, in.Tag)
			}
		}
		if len(tags) > 0 {
			what = append(what, "tags "+strings.Join(tags, ", "))
		}
		if len(what) > 0 {
			p += " (" + strings.Join(what, ", ") + ")"
		}
		parts = append(parts, p)
	}
	for _, in := range r.Injectors {
		if _, ok := r.ControlPlane(in.Revision); primary && !ok {
			what := "injector " + in.Name
			if in.Tag != "" {
				what = "tag " + in.Tag
			}
			parts = append(parts, fmt.Sprintf("%s points at revision %s, which runs no istiod here", what, in.Revision))
		}
	}
	if primary {
		for _, cp := range r.ControlPlanes {
			if cp.Injector == "" && len(cp.Tags) == 0 {
				parts = append(parts, fmt.Sprintf("revision %s (%s) has no injection webhook", cp.Revision, cp.Deployment))
			}
		}
	}
	if len(parts) == 0 {
		return "it runs no revision"
	}
	return "it runs " + strings.Join(parts, "; ")
}

// Deployment returns the istiod Deployment of a revision ("default" or "" for the default one), found by its labels
// (app=istiod, istio.io/rev), so that one an operator named otherwise is found too.
func Deployment(ctx context.Context, c *kube.Client, rev string) (*appsv1.Deployment, error) {
	if rev == "" {
		rev = render.DefaultRevision
	}
	deps, err := c.Clientset.AppsV1().Deployments(render.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + render.IstiodApp})
	if err != nil {
		return nil, fmt.Errorf("%s: list istiod Deployments in %s: %w", c.Name, render.Namespace, err)
	}
	var found []appsv1.Deployment
	for _, d := range deps.Items {
		if revisionOf(d.Labels) == rev {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 1:
		return &found[0], nil
	case len(found) > 1:
		// Two Deployments claim one revision: the chart's name is the one meant.
		for i := range found {
			if found[i].Name == render.IstiodName(rev) {
				return &found[i], nil
			}
		}
		return &found[0], nil
	}
	return nil, fmt.Errorf("%s: no istiod Deployment of revision %s in %s (app=%s, %s=%s)", c.Name, rev, render.Namespace,
		render.IstiodApp, render.RevisionLabel, rev)
}
