package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// RevisionLabel names the revision (or tag) whose injector injects a namespace; InjectionLabel (istio-injection)
// takes precedence over it: with istio-injection=enabled the default revision injects, with disabled nothing does.
const (
	RevisionLabel = env.RevisionLabel
	// SidecarStatusAnnotation is what the injector writes on every pod it injects; its "revision" names the injecting
	// istiod's revision (the tag resolved: Istio writes it there rather than relabelling the pod).
	SidecarStatusAnnotation = "sidecar.istio.io/status"
)

// injectionOf fills the default injection (istio-injection=enabled, revision default) into an unset one.
func injectionOf(in env.Injection) env.Injection {
	if in.Label == "" {
		return env.Injection{Label: env.InjectionLabel, Value: env.InjectionEnabled, Revision: env.DefaultRevision}
	}
	return in
}

// NamespaceLabels are the injection labels a test namespace gets: the one that selects the injection, and the keys to
// remove because they would select another (istio-injection wins over istio.io/rev; an istio.io/rev beside
// istio-injection=enabled is ignored by Istio but misleads a reader).
func NamespaceLabels(in env.Injection) (set map[string]string, remove []string) {
	in = injectionOf(in)
	if in.Label == env.InjectionLabel {
		return map[string]string{InjectionLabel: in.Value}, []string{RevisionLabel}
	}
	return map[string]string{RevisionLabel: in.Value}, []string{InjectionLabel}
}

// InjectedRevision is the revision that injected a pod, from its sidecar.istio.io/status; "" when it was not injected.
func InjectedRevision(p *corev1.Pod) string {
	raw, ok := p.Annotations[SidecarStatusAnnotation]
	if !ok {
		return ""
	}
	var st struct {
		Revision string `json:"revision"`
	}
	if json.Unmarshal([]byte(raw), &st) != nil || st.Revision == "" {
		return env.DefaultRevision // injectors before revisions wrote none
	}
	return st.Revision
}

// InjectionProblems compares a test namespace's labels and pods with how they are to be injected: the namespace must
// select the injection (its label, and nothing that overrides it) and every pod must have been injected by the
// revision want names. Each problem is one sentence; none means the workloads run on the revision under test.
func InjectionProblems(ns *corev1.Namespace, pods []corev1.Pod, want env.Injection) []string {
	want = injectionOf(want)
	var out []string
	labels := ns.Labels
	inj, hasInj := labels[InjectionLabel]
	rev, hasRev := labels[RevisionLabel]
	wantLabel := want.Label + "=" + want.Value
	switch {
	case want.Label == env.InjectionLabel:
		if inj != env.InjectionEnabled && !(hasRev && !hasInj && rev == env.DefaultRevision) {
			out = append(out, fmt.Sprintf("namespace %s carries %s, not %s: the default revision does not inject it", ns.Name,
				describeLabels(labels), wantLabel))
		}
	case hasInj:
		out = append(out, fmt.Sprintf("namespace %s carries %s=%s, which takes precedence over %s and selects %s: "+
			"revision %s does not inject it", ns.Name, InjectionLabel, inj, RevisionLabel,
			map[bool]string{true: "the default revision", false: "no injection"}[inj == env.InjectionEnabled], want.Revision))
	case !hasRev:
		out = append(out, fmt.Sprintf("namespace %s has no %s label (wants %s): nothing injects it", ns.Name, RevisionLabel, wantLabel))
	case rev != want.Value:
		out = append(out, fmt.Sprintf("namespace %s carries %s=%s, not %s: another revision's injector (or none) injects it",
			ns.Name, RevisionLabel, rev, wantLabel))
	}
	var names []string
	byName := map[string]string{}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		names = append(names, p.Name)
		switch got := InjectedRevision(p); {
		case got == "":
			byName[p.Name] = fmt.Sprintf("pod %s was not injected (no %s)", p.Name, SidecarStatusAnnotation)
		case got != want.Revision:
			byName[p.Name] = fmt.Sprintf("pod %s was injected by revision %s, not %s", p.Name, got, want.Revision)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if s, ok := byName[n]; ok {
			out = append(out, s)
		}
	}
	return out
}

// describeLabels names the injection labels a namespace carries.
func describeLabels(labels map[string]string) string {
	var parts []string
	for _, k := range []string{InjectionLabel, RevisionLabel} {
		if v, ok := labels[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "no " + InjectionLabel + " or " + RevisionLabel + " label"
	}
	return strings.Join(parts, " and ")
}

// CheckInjection reads a test namespace and its pods and returns InjectionProblems.
func CheckInjection(ctx context.Context, c *kube.Client, ns string, want env.Injection) ([]string, error) {
	n, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return nil, wrap(c, "get namespace "+ns, err)
	}
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, wrap(c, "list pods in "+ns, err)
	}
	return InjectionProblems(n, pods.Items, want), nil
}

// FixInjection is the commands that label namespace ns of a cluster for want and restart its pods.
func FixInjection(context, ns string, want env.Injection) []string {
	set, remove := NamespaceLabels(want)
	label := "kubectl --context " + context + " label namespace " + ns + " --overwrite"
	for k, v := range set {
		label += " " + k + "=" + v
	}
	for _, k := range remove {
		label += " " + k + "-"
	}
	return []string{label, "kubectl --context " + context + " -n " + ns + " rollout restart deployment"}
}
