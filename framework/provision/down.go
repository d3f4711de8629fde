package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/workload"
)

// Down removes what the environment file records and, with all, every meshconform cluster, network and rule on
// this machine (found by name prefix, label and rule comment), including leftovers of interrupted runs. Without an
// environment file and without all it removes nothing: what it would find by prefix may belong to another
// environment (another state directory, another CI job on the same machine); it lists it and says how to remove it.
func Down(ctx context.Context, stateDir string, all bool, out io.Writer) error {
	st, err := env.Load(stateDir)
	if err != nil && !errors.Is(err, env.ErrNoEnvironment) {
		return err
	}
	var found, owned []string
	if all || st == nil {
		if found, err = clusters.List(); err != nil {
			return err
		}
		if owned, err = network.ListOwned(ctx); err != nil {
			return err
		}
	}
	plan := planDown(st, all, found, owned)
	if plan.nothing {
		if len(found)+len(owned) == 0 {
			fmt.Fprintf(out, "no environment in %s: nothing to remove\n", stateDir)
			return nil
		}
		fmt.Fprintf(out, "no environment in %s: nothing removed. This machine has meshconform clusters %v and networks %v "+
			"of other environments (another --state-dir or $MESHCONFORM_HOME); remove them from their own state "+
			"directory, or all of them with `meshconform down --all`\n", stateDir, found, owned)
		return nil
	}
	kindNames, networks, topo := plan.clusters, plan.networks, plan.ruleOwner
	var errs []error
	if st != nil {
		errs = append(errs, removeBroughtWorkloads(ctx, st, out)...)
	}
	for _, n := range kindNames {
		fmt.Fprintf(out, "deleting cluster %s\n", n)
		if err := clusters.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	removed := 0
	if plan.rules {
		n, err := network.RemoveRules(ctx, topo)
		if err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			fmt.Fprintf(out, "removed %d iptables rules\n", n)
		}
		removed = n
	}
	for _, n := range networks {
		fmt.Fprintf(out, "removing network %s\n", n)
		if err := network.Remove(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && st != nil {
		if err := st.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(kindNames)+len(networks)+removed == 0 {
		fmt.Fprintln(out, "nothing to remove")
	}
	return errors.Join(errs...)
}

// removal is what Down removes: kind clusters, docker networks, and, when rules is set, the iptables rules of
// ruleOwner (every meshconform rule when ""); nothing means none of them, rules included. An environment whose
// state names no topology has no owner tag: its rules cannot be told apart, so none is removed (not all of them).
type removal struct {
	clusters, networks []string
	ruleOwner          string
	rules              bool
	nothing            bool
}

// planDown decides what Down removes: what the environment records and, with all, every meshconform cluster and
// network found on the machine (found, owned) and every meshconform rule. Without an environment and without all:
// nothing.
func planDown(st *env.State, all bool, found, owned []string) removal {
	var r removal
	if st == nil && !all {
		return removal{nothing: true}
	}
	if st != nil {
		if st.Topology.Name != "" {
			r.ruleOwner, r.rules = st.Topology.Name, true
		}
		for _, c := range st.Clusters {
			if c.Provisioned && c.KindName != "" {
				r.clusters = append(r.clusters, c.KindName)
			}
		}
		for _, n := range st.Networks {
			r.networks = append(r.networks, n.Name)
		}
	}
	if all {
		r.clusters = union(r.clusters, found)
		r.networks = union(r.networks, owned)
		r.ruleOwner, r.rules = "", true // every meshconform rule
	}
	return r
}

func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// removeBroughtWorkloads deletes the test workloads' namespace from clusters the user brought: the only thing
// meshconform put there. A namespace without meshconform's label is the user's and is left alone.
func removeBroughtWorkloads(ctx context.Context, st *env.State, out io.Writer) []error {
	if st.Mesh == nil || st.Mesh.Workloads == nil || st.Mesh.Workloads.Namespace == "" {
		return nil
	}
	ns := st.Mesh.Workloads.Namespace
	var errs []error
	for _, c := range st.Clusters {
		if c.Provisioned {
			continue
		}
		kc, err := kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := kc.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: namespace %s: %w", c.Name, ns, err))
			continue
		}
		if got.Labels[workload.ManagedLabel] != "true" {
			fmt.Fprintf(out, "%s: leaving namespace %s alone: it lacks %s=true, so it is not meshconform's\n", c.Name, ns, workload.ManagedLabel)
			continue
		}
		fmt.Fprintf(out, "%s: deleting the test workloads (namespace %s)\n", c.Name, ns)
		if err := workload.Remove(ctx, kc, ns); err != nil {
			errs = append(errs, err)
			continue
		}
		// Down is done when the namespace is gone: an `up` right after would otherwise find it terminating.
		err = kube.Poll(ctx, "namespace "+ns+" deleted in "+c.Name, time.Second, 3*time.Minute,
			func(ctx context.Context) (bool, string, error) {
				_, err := kc.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, "", nil
				}
				return false, "terminating", nil
			})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
