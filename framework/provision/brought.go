package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
	"github.com/meshconform/meshconform/framework/workload"
)

// A kind cluster meshconform provisioned is deleted whole. A cluster the user brought is theirs: `down` deletes from
// it exactly what this environment wrote there, each object only if it carries this environment's labels
// (env.MayDelete), and says so of every object it leaves.

// removalPhase orders the removal across all brought clusters: the workloads first (nothing uses the mesh any more),
// then the remote secrets (every istiod stops reading its peers), then what exposes istiod and routes across
// networks, then the reader tokens (nobody reads with them any more), and cacerts last, when nothing still needs
// the mesh's certificates. A running istiod keeps the intermediate it loaded; it only makes its own CA when it
// restarts.
type removalPhase int

const (
	phaseWorkloads removalPhase = iota
	phaseRemoteSecrets
	phaseExposure
	phaseReaderTokens
	phaseCACerts
)

// what says what an object is, for the lines Down prints.
func (o broughtObject) what() string {
	switch {
	case o.Kind == kindNamespace:
		return "a test namespace, with everything in it"
	case o.Kind == kindSecret && o.Name == trust.SecretName:
		return "intermediate CA; a running istiod keeps it until it restarts"
	case o.Kind == kindSecret && o.Name == istio.ReaderTokenSecret:
		return "the token other clusters' istiods read this cluster with"
	case o.Kind == kindSecret && strings.HasPrefix(o.Name, istio.RemoteSecretPrefix):
		return "remote secret: istiod stops reading " + strings.TrimPrefix(o.Name, istio.RemoteSecretPrefix)
	case o.Kind == kindService && o.Name == render.IstiodLBServiceName:
		return "istiod's LoadBalancer for remotes"
	case o.Kind == kindGateway && o.Name == render.CrossNetworkGatewayName:
		return "cross-network traffic through the east-west gateway"
	case o.Name == render.IstiodGatewayName || o.Name == render.IstiodVirtualServiceName:
		return "istiod exposed through the east-west gateway"
	}
	return "labelled as this environment's"
}

// Kinds of what Down looks for in a brought cluster.
const (
	kindNamespace      = "Namespace"
	kindSecret         = "Secret"
	kindService        = "Service"
	kindGateway        = "Gateway"
	kindVirtualService = "VirtualService"
)

// broughtObject is an object meshconform may have written in a brought cluster, as Down found it there.
type broughtObject struct {
	Cluster, Kind, Namespace, Name string
	Labels                         map[string]string
}

func (o broughtObject) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// phase is when an object goes; keep is set for objects Down never deletes, whoever labelled them.
func (o broughtObject) phase() (p removalPhase, keep string) {
	switch {
	case o.Kind == kindNamespace && o.Name == render.Namespace:
		return phaseWorkloads, "Istio runs in it: it goes when Istio is uninstalled"
	case o.Kind == kindNamespace:
		return phaseWorkloads, ""
	case o.Kind == kindSecret && o.Name == trust.SecretName:
		return phaseCACerts, ""
	case o.Kind == kindSecret && o.Name == istio.ReaderTokenSecret:
		return phaseReaderTokens, ""
	case o.Kind == kindSecret && strings.HasPrefix(o.Name, istio.RemoteSecretPrefix):
		return phaseRemoteSecrets, ""
	default:
		return phaseExposure, ""
	}
}

// removalStep is the decision about one found object.
type removalStep struct {
	broughtObject
	Phase  removalPhase
	Delete bool
	// Why an object is left alone.
	Why string
}

// Line is what Down prints for the step.
func (s removalStep) Line() string {
	if s.Delete {
		return fmt.Sprintf("%s: deleting %s (%s)", s.Cluster, s.broughtObject, s.what())
	}
	return fmt.Sprintf("%s: leaving %s alone: %s", s.Cluster, s.broughtObject, s.Why)
}

// planBroughtRemoval decides, for the objects found in brought clusters (in cluster order), which environment
// envName deletes, in the order it deletes them, and why it leaves the others: only objects labelled as its own go
// (env.MayDelete), never istio-system, and in a mesh recorded as preinstalled only the test namespaces. istiod there
// is the user's: meshconform writes nothing into istio-system of such a mesh (it only verifies it), so a cacerts or
// remote secret labelled as the environment's was left by an earlier `up` that installed Istio, and the mesh the user
// now calls theirs may run on it.
func planBroughtRemoval(envName string, mesh *env.Mesh, found []broughtObject) []removalStep {
	preinstalled := mesh != nil && mesh.Installer == env.InstallerPreinstalled
	var out []removalStep
	for _, o := range found {
		p, keep := o.phase()
		s := removalStep{broughtObject: o, Phase: p}
		owner := env.OwnerOf(o.Labels)
		switch {
		case keep != "":
			s.Why = keep
		case !env.MayDelete(owner, envName):
			s.Why = "it is " + owner.String() + ", not environment " + fmt.Sprintf("%q", envName) + "'s"
		case p != phaseWorkloads && preinstalled:
			s.Why = "the mesh is recorded as preinstalled, so istiod is yours and may run on it (an earlier `up` " +
				"that installed Istio wrote it); delete it yourself when nothing needs it"
		default:
			s.Delete = true
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Phase < out[j].Phase })
	return out
}

// broughtCluster is a brought cluster's clients and the names Down looks for in it.
type broughtCluster struct {
	Name  string
	Kube  kubernetes.Interface
	Istio istioclient.Interface
	// Peers are the other clusters of the environment: the remote secrets a primary may hold name them.
	Peers []string
}

// find lists what this environment may have written in the cluster: the objects of the names meshconform uses,
// whoever labelled them (so Down can say what it leaves), and anything else labelled as the environment's in
// istio-system, plus namespaces labelled as the environment's (the test workloads' and the install guide's sample).
// Absent objects, and absent kinds (no Istio CRDs), are skipped.
func (c broughtCluster) find(ctx context.Context, envName, workloadsNS string) ([]broughtObject, error) {
	var out []broughtObject
	seen := map[string]bool{}
	add := func(kind, ns, name string, l map[string]string) {
		o := broughtObject{Cluster: c.Name, Kind: kind, Namespace: ns, Name: name, Labels: l}
		if !seen[o.String()] {
			seen[o.String()] = true
			out = append(out, o)
		}
	}
	mine := metav1.ListOptions{LabelSelector: labels.Set{env.EnvLabel: envName}.String()}
	var errs []error
	note := func(what string, err error) bool {
		if err == nil {
			return true
		}
		if !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %s: %w", c.Name, what, err))
		}
		return false
	}
	get := metav1.GetOptions{}
	nss := c.Kube.CoreV1().Namespaces()
	if ns, err := nss.Get(ctx, workloadsNS, get); note("get namespace "+workloadsNS, err) {
		add(kindNamespace, "", ns.Name, ns.Labels)
	}
	if list, err := nss.List(ctx, mine); note("list namespaces", err) {
		for _, ns := range list.Items {
			add(kindNamespace, "", ns.Name, ns.Labels)
		}
	}

	sys := render.Namespace
	secrets := c.Kube.CoreV1().Secrets(sys)
	names := []string{trust.SecretName, istio.ReaderTokenSecret}
	for _, p := range c.Peers {
		names = append(names, istio.RemoteSecretPrefix+p)
	}
	for _, n := range names {
		if s, err := secrets.Get(ctx, n, get); note("get secret "+sys+"/"+n, err) {
			add(kindSecret, sys, s.Name, s.Labels)
		}
	}
	if list, err := secrets.List(ctx, mine); note("list secrets in "+sys, err) {
		for _, s := range list.Items {
			add(kindSecret, sys, s.Name, s.Labels)
		}
	}
	services := c.Kube.CoreV1().Services(sys)
	if s, err := services.Get(ctx, render.IstiodLBServiceName, get); note("get service "+render.IstiodLBServiceName, err) {
		add(kindService, sys, s.Name, s.Labels)
	}
	if list, err := services.List(ctx, mine); note("list services in "+sys, err) {
		for _, s := range list.Items {
			add(kindService, sys, s.Name, s.Labels)
		}
	}
	if c.Istio != nil {
		gws := c.Istio.NetworkingV1().Gateways(sys)
		for _, n := range []string{render.CrossNetworkGatewayName, render.IstiodGatewayName} {
			if g, err := gws.Get(ctx, n, get); note("get gateway "+n, err) {
				add(kindGateway, sys, g.Name, g.Labels)
			}
		}
		if list, err := gws.List(ctx, mine); note("list gateways in "+sys, err) {
			for _, g := range list.Items {
				add(kindGateway, sys, g.Name, g.Labels)
			}
		}
		vss := c.Istio.NetworkingV1().VirtualServices(sys)
		if v, err := vss.Get(ctx, render.IstiodVirtualServiceName, get); note("get virtualservice "+render.IstiodVirtualServiceName, err) {
			add(kindVirtualService, sys, v.Name, v.Labels)
		}
		if list, err := vss.List(ctx, mine); note("list virtualservices in "+sys, err) {
			for _, v := range list.Items {
				add(kindVirtualService, sys, v.Name, v.Labels)
			}
		}
	}
	return out, errors.Join(errs...)
}

// delete deletes one object; one already gone is not an error.
func (c broughtCluster) delete(ctx context.Context, o broughtObject) error {
	var err error
	del := metav1.DeleteOptions{}
	switch o.Kind {
	case kindNamespace:
		err = c.Kube.CoreV1().Namespaces().Delete(ctx, o.Name, del)
	case kindSecret:
		err = c.Kube.CoreV1().Secrets(o.Namespace).Delete(ctx, o.Name, del)
	case kindService:
		err = c.Kube.CoreV1().Services(o.Namespace).Delete(ctx, o.Name, del)
	case kindGateway:
		err = c.Istio.NetworkingV1().Gateways(o.Namespace).Delete(ctx, o.Name, del)
	case kindVirtualService:
		err = c.Istio.NetworkingV1().VirtualServices(o.Namespace).Delete(ctx, o.Name, del)
	default:
		err = fmt.Errorf("no deleter for kind %s", o.Kind)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete %s: %w", c.Name, o, err)
	}
	return nil
}

// removeBrought removes from the brought clusters what environment envName wrote there, phase by phase across
// every cluster (planBroughtRemoval), one line per object deleted or left alone. Namespaces are waited for: an
// `up` right after would otherwise find them terminating.
// It returns how many objects it deleted.
func removeBrought(ctx context.Context, envName string, mesh *env.Mesh, cs []broughtCluster, out io.Writer,
	nsTimeout time.Duration) (int, []error) {
	workloadsNS := workload.DefaultNamespace
	if mesh != nil && mesh.Workloads != nil && mesh.Workloads.Namespace != "" {
		workloadsNS = mesh.Workloads.Namespace
	}
	var errs []error
	var found []broughtObject
	byName := map[string]broughtCluster{}
	for _, c := range cs {
		byName[c.Name] = c
		objs, err := c.find(ctx, envName, workloadsNS)
		if err != nil {
			errs = append(errs, err)
		}
		found = append(found, objs...)
	}
	steps := planBroughtRemoval(envName, mesh, found)
	deleted := 0
	for i := 0; i < len(steps); {
		// One phase at a time; a phase's namespaces are gone before the next phase starts.
		j := i
		for j < len(steps) && steps[j].Phase == steps[i].Phase {
			j++
		}
		var waitFor []broughtObject
		for _, s := range steps[i:j] {
			fmt.Fprintln(out, s.Line())
			if !s.Delete {
				continue
			}
			if err := byName[s.Cluster].delete(ctx, s.broughtObject); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted++
			if s.Kind == kindNamespace {
				waitFor = append(waitFor, s.broughtObject)
			}
		}
		for _, o := range waitFor {
			nss := byName[o.Cluster].Kube.CoreV1().Namespaces()
			err := kube.Poll(ctx, "namespace "+o.Name+" deleted in "+o.Cluster, time.Second, nsTimeout,
				func(ctx context.Context) (bool, string, error) {
					_, err := nss.Get(ctx, o.Name, metav1.GetOptions{})
					if apierrors.IsNotFound(err) {
						return true, "", nil
					}
					return false, "terminating", nil
				})
			if err != nil {
				errs = append(errs, err)
			}
		}
		i = j
	}
	if mesh != nil && mesh.Installer != env.InstallerPreinstalled && mesh.Installer != "" {
		how := "`istioctl uninstall --purge`"
		if mesh.Installer == env.InstallerHelm {
			how = "`helm uninstall` of its releases in " + render.Namespace
		}
		for _, c := range cs {
			fmt.Fprintf(out, "%s: Istio, which meshconform installed with %s, stays: remove it with %s if you do not "+
				"need it\n", c.Name, mesh.Installer, how)
		}
	}
	return deleted, errs
}

// removeBroughtClusters connects to the environment's brought clusters and removes what it wrote there, returning how
// many objects it deleted.
func removeBroughtClusters(ctx context.Context, st *env.State, out io.Writer) (int, []error) {
	var all []string
	for _, c := range st.Clusters {
		all = append(all, c.Name)
	}
	var cs []broughtCluster
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
		ic, err := istioclient.NewForConfig(kc.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: istio client: %w", c.Name, err))
			continue
		}
		peers := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == c.Name })
		cs = append(cs, broughtCluster{Name: c.Name, Kube: kc.Clientset, Istio: ic, Peers: peers})
	}
	if len(cs) == 0 {
		return 0, errs
	}
	n, rerrs := removeBrought(ctx, st.Name, st.Mesh, cs, out, 3*time.Minute)
	return n, append(errs, rerrs...)
}
