package render

import (
	"fmt"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
)

// StepKind is one kind of installation step.
type StepKind string

const (
	// StepNamespace: istio-system with the network label (and, on a remote, the controlPlaneClusters annotation).
	StepNamespace StepKind = "namespace"
	// StepCACerts: the cluster's intermediate CA as cacerts, before istiod starts (primaries).
	StepCACerts StepKind = "cacerts"
	// StepControlPlane: istiod installed and Available (primaries).
	StepControlPlane StepKind = "control-plane"
	// StepEastWestGateway: east-west gateway, cross-network Gateway, its LoadBalancer IP.
	StepEastWestGateway StepKind = "east-west-gateway"
	// StepExposeIstiod: istiod reachable for remotes (primaries with remotes).
	StepExposeIstiod StepKind = "expose-istiod"
	// StepRemote: the remote profile pointing at the primary's exposed istiod (remotes).
	StepRemote StepKind = "remote"
	// StepRemoteSecret: in Cluster (a primary), the remote secret for Peer.
	StepRemoteSecret StepKind = "remote-secret"
	// StepRemoteWebhook: the primary's istiod took charge of the remote: the remote's injection webhook has a
	// caBundle (without it every injected pod is refused, istio#42327).
	StepRemoteWebhook StepKind = "remote-webhook"
	// StepGatewayPods: whether the east-west gateway's pods run.
	StepGatewayPods StepKind = "gateway-pods"
	// StepSync: the primary's istiod reports every cluster synced.
	StepSync StepKind = "sync"
	// StepVerify: a preinstalled cluster runs what its role needs.
	StepVerify StepKind = "verify"
)

// Step is one installation step on one cluster.
type Step struct {
	Kind    StepKind
	Cluster string
	// Peer is the cluster a remote secret describes.
	Peer string
}

func (s Step) String() string {
	if s.Peer != "" {
		return fmt.Sprintf("%s %s->%s", s.Kind, s.Cluster, s.Peer)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Cluster)
}

// PlanOptions shape the plan.
type PlanOptions struct {
	// ExposeIstiod is loadbalancer or gateway.
	ExposeIstiod env.IstiodExposure
	// Preinstalled: verify the user's installation, install nothing.
	Preinstalled bool
}

// Plan lists Install's steps in stages: the steps of a stage are independent and run in parallel; a stage starts
// when the previous one is done. The order encodes what Istio needs: cacerts before istiod, the control plane
// before the gateways and exposure that use its CRDs and webhook, the primary's exposed address before the remote
// that points at it, the remote's reader service account before the secret that uses it, the secret before the
// primary's istiod can patch the remote's webhook and write its root certificate, and that before anything is
// injected in the remote (its east-west gateway); the checks that istiod synced and gateway pods run come last.
func Plan(t *topology.Topology, o PlanOptions) [][]Step {
	var (
		all       = t.Spec.Clusters
		primaries = t.Primaries()
		remotes   = t.Remotes()
		stages    [][]Step
	)
	add := func(s []Step) {
		if len(s) > 0 {
			stages = append(stages, s)
		}
	}
	each := func(cs []topology.Cluster, k StepKind, keep func(topology.Cluster) bool) []Step {
		var out []Step
		for _, c := range cs {
			if keep == nil || keep(c) {
				out = append(out, Step{Kind: k, Cluster: c.Name})
			}
		}
		return out
	}
	hasGateway := func(c topology.Cluster) bool { return NeedsEastWestGateway(t, c.Name, o.ExposeIstiod) }
	if o.Preinstalled {
		add(each(all, StepVerify, nil))
		final := append(each(all, StepGatewayPods, hasGateway), each(primaries, StepSync, nil)...)
		add(append(final, each(remotes, StepRemoteWebhook, nil)...))
		return stages
	}
	add(each(all, StepNamespace, nil))
	add(each(primaries, StepCACerts, nil))
	add(each(primaries, StepControlPlane, nil))
	add(each(primaries, StepEastWestGateway, hasGateway))
	add(each(primaries, StepExposeIstiod, func(c topology.Cluster) bool { return len(t.RemotesOf(c.Name)) > 0 }))
	add(each(remotes, StepRemote, nil))
	var secrets []Step
	for _, p := range primaries {
		for _, c := range all {
			if c.Name != p.Name {
				secrets = append(secrets, Step{Kind: StepRemoteSecret, Cluster: p.Name, Peer: c.Name})
			}
		}
	}
	add(secrets)
	add(each(remotes, StepRemoteWebhook, nil))
	// A remote's gateway pods are injected by the primary's istiod through the remote's webhook: after its caBundle.
	add(each(remotes, StepEastWestGateway, hasGateway))
	add(append(each(all, StepGatewayPods, hasGateway), each(primaries, StepSync, nil)...))
	return stages
}

// NeedsEastWestGateway reports whether a cluster gets an east-west gateway: every cluster of a multi-network
// topology (cross-network traffic enters through it), and a primary whose remotes reach istiod through it.
func NeedsEastWestGateway(t *topology.Topology, cluster string, exposeIstiod env.IstiodExposure) bool {
	c, ok := t.Cluster(cluster)
	if !ok {
		return false
	}
	if t.MultiNetwork() {
		return true
	}
	return c.IsPrimary() && exposeIstiod == env.ExposeGateway && len(t.RemotesOf(c.Name)) > 0
}
