package checks

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// causeInjection is why test workloads run on another revision than the one under test.
const causeInjection = "the test namespace's injection label does not select the revision under test: a namespace " +
	"picks its injector by istio.io/rev=<revision or tag>, istio-injection (which selects the default revision, or " +
	"disables injection) takes precedence over it, and a pod keeps the injection (proxy, grpc-agent template, the " +
	"istiod it talks to) of the revision that admitted it until it is restarted; the specs would be testing another " +
	"control plane than the one the report names"

// InjectionRevision fails unless every cluster's test namespace is labelled for the revision under test (what the
// environment records: --revision, or the one `up` chose) and every test pod was injected by that revision.
func InjectionRevision(ctx context.Context, m *Mesh) error {
	var problems, inspect []string
	for _, c := range m.State.Clusters {
		in := m.Injection(c.Name)
		ps, err := workload.CheckInjection(ctx, m.Clients[c.Name], m.Namespace, in)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s (revision %s, %s=%s): %s", c.Name, in.Revision, in.Label, in.Value,
			strings.Join(ps, "; ")))
		inspect = append(inspect, workload.FixInjection(contextOf(c), m.Namespace, in)...)
	}
	if len(problems) == 0 {
		return nil
	}
	f := fail(v1alpha1.AreaConfig, causeInjection, inspect, "%s", strings.Join(problems, " | "))
	f.Final = true // labels do not change by waiting
	return f
}

// InjectionTable shows, per cluster, the namespace label the test workloads are injected by and the revision and
// webhook it selects.
func InjectionTable(st *env.State) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTER\tROLE\tNAMESPACE LABEL\tREVISION\tWEBHOOK\tISTIODS")
	for _, c := range st.Clusters {
		in := st.Mesh.InjectionOf(c.Name)
		rev := in.Revision
		if in.Tag != "" {
			rev += " (tag " + in.Tag + ")"
		}
		var ds []string
		for _, d := range st.Mesh.Clusters[c.Name].Istiods {
			ds = append(ds, d.Deployment+" "+dash(d.Version))
		}
		fmt.Fprintf(w, "%s\t%s\t%s=%s\t%s\t%s\t%s\n", c.Name, c.Role, in.Label, in.Value, rev, dash(in.Webhook), dash(strings.Join(ds, ", ")))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// contextOf is the kubectl context that reaches a cluster (its name when the environment records none).
func contextOf(c env.Cluster) string {
	if c.Access.Context != "" {
		return c.Access.Context
	}
	return c.Name
}
