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
// this machine (found by name prefix, label and rule comment), including leftovers of interrupted runs.
func Down(ctx context.Context, stateDir string, all bool, out io.Writer) error {
	st, err := env.Load(stateDir)
	if err != nil && !errors.Is(err, env.ErrNoEnvironment) {
		return err
	}
	var kindNames, networks []string
	topo := ""
	if st != nil {
		topo = st.Topology.Name
		for _, c := range st.Clusters {
			if c.Provisioned && c.KindName != "" {
				kindNames = append(kindNames, c.KindName)
			}
		}
		for _, n := range st.Networks {
			networks = append(networks, n.Name)
		}
	}
	if all || st == nil {
		found, err := clusters.List()
		if err != nil {
			return err
		}
		kindNames = union(kindNames, found)
		owned, err := network.ListOwned(ctx)
		if err != nil {
			return err
		}
		networks = union(networks, owned)
		topo = "" // every meshconform rule
	}
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
	removed, err := network.RemoveRules(ctx, topo)
	if err != nil {
		errs = append(errs, err)
	} else if removed > 0 {
		fmt.Fprintf(out, "removed %d iptables rules\n", removed)
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
