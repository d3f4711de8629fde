// Package checks holds the conformance checks: each looks at live clusters once and returns nil or a *Failure that
// says what it saw, the likely cause and what to inspect. The Ginkgo specs in package suites decide how long to wait
// and which checks apply; the e2e tests break a mesh on purpose and show each check failing against it.
package checks

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshconform/meshconform/fixtures/workload/wire"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// Mesh is what the checks read: the environment file and a client per cluster.
type Mesh struct {
	State   *env.State
	Clients map[string]*kube.Client
	// Namespace, Service and Port locate the echo workloads; ServerAccount is the echo pods' service account.
	Namespace     string
	Service       string
	Port          int32
	ServerAccount string
	DataPlane     env.DataPlane
	TrustDomain   string
}

// Connect builds clients for every cluster of an environment that has a mesh and workloads.
func Connect(st *env.State) (*Mesh, error) {
	if st.Mesh == nil {
		return nil, fmt.Errorf("environment %s has no mesh: run `meshconform up` without --no-mesh", st.Path())
	}
	m := &Mesh{State: st, Clients: map[string]*kube.Client{}, Namespace: workload.DefaultNamespace,
		Service: workload.DefaultService, Port: workload.DefaultPort, DataPlane: st.Mesh.DataPlane,
		TrustDomain: cmp.Or(st.Mesh.TrustDomain, topology.DefaultTrustDomain)}
	if w := st.Mesh.Workloads; w != nil {
		m.Namespace, m.Service = cmp.Or(w.Namespace, m.Namespace), cmp.Or(w.Service, m.Service)
		if w.Port != 0 {
			m.Port = int32(w.Port)
		}
	}
	m.ServerAccount = m.Service
	for _, c := range st.Clusters {
		kc, err := kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		m.Clients[c.Name] = kc
	}
	return m, nil
}

// Names are the clusters in topology order.
func (m *Mesh) Names() []string {
	var out []string
	for _, c := range m.State.Clusters {
		out = append(out, c.Name)
	}
	return out
}

// Revision is the istiod revision serving a cluster's test workloads ("default" for the default one): its own
// istiod's on a primary, its primary's on a remote.
func (m *Mesh) Revision(name string) string { return m.State.Mesh.IstiodRevision(name) }

// Injection is how a cluster's test workloads are injected (env.Mesh.InjectionOf).
func (m *Mesh) Injection(name string) env.Injection { return m.State.Mesh.InjectionOf(name) }

// IstioID is the cluster ID Istio knows cluster name by (istiod's clusterz, remote secrets).
func (m *Mesh) IstioID(name string) string {
	if m.State.Mesh != nil {
		if id := m.State.Mesh.Clusters[name].IstioClusterID; id != "" {
			return id
		}
	}
	return name
}

// Others are the clusters other than name, in topology order.
func (m *Mesh) Others(name string) []string {
	return slices.DeleteFunc(m.Names(), func(n string) bool { return n == name })
}

// Network is the mesh network of a cluster.
func (m *Mesh) Network(name string) string {
	if c := m.State.Cluster(name); c != nil {
		return cmp.Or(c.Network, topology.DefaultNetwork)
	}
	return topology.DefaultNetwork
}

// SameNetwork says whether two clusters share a mesh network (pod IPs reachable directly).
func (m *Mesh) SameNetwork(a, b string) bool { return m.Network(a) == m.Network(b) }

// MultiNetwork says whether the mesh spans more than one network.
func (m *Mesh) MultiNetwork() bool { return m.State.MultiNetwork() }

// Istiod returns the cluster whose istiod configures name's workloads: itself for a primary, its primary for a remote.
func (m *Mesh) Istiod(name string) string {
	if p, ok := m.State.PrimaryOf(name); ok {
		return p.Name
	}
	return name
}

// Target is the client's target for the echo service.
func (m *Mesh) Target() string {
	return workload.Target(m.DataPlane, m.Namespace, m.Service, m.Port)
}

// Host is the echo service's host name.
func (m *Mesh) Host() string { return workload.Host(m.Namespace, m.Service) }

// ClientIdentity and ServerIdentity are the SPIFFE IDs of the client and echo workloads.
func (m *Mesh) ClientIdentity() string {
	return workload.Identity(m.TrustDomain, m.Namespace, workload.ClientName)
}

func (m *Mesh) ServerIdentity() string {
	return workload.Identity(m.TrustDomain, m.Namespace, m.ServerAccount)
}

// GatewayReady says whether a cluster's east-west gateway pods run (false where no Envoy image exists).
func (m *Mesh) GatewayReady(name string) bool {
	return m.State.Mesh.Clusters[name].GatewayReady
}

// Connections is how the client's connections to another network's east-west gateway live. meshconform's client
// opens one gRPC channel per run (wire.OneChannelPerRun) and a sidecar pools its upstream connections whatever the
// client does, so on both data planes the connection to a gateway lasts the run and the gateway, which picks the
// cluster behind it per connection, sends every call on it to one cluster (see lb.ClientConnections).
func (m *Mesh) Connections() lb.Connections {
	return lb.ClientConnections(m.DataPlane, !wire.OneChannelPerRun)
}

// ReachGroups are what calls from src must reach (lb.ReachGroups): every cluster of its network, and every other
// network whose gateways can run here, through any one of its clusters.
func (m *Mesh) ReachGroups(src string) lb.Reach {
	return lb.ReachGroups(m.State, src, m.Connections())
}

// Reachable are the clusters whose echo pods a client in src may reach: every cluster of its network, plus those of
// other networks unless their east-west gateways cannot run here. Behind a gateway one of a network's clusters
// answering is enough (ReachGroups).
func (m *Mesh) Reachable(src string) []string {
	return m.ReachGroups(src).Clusters()
}

// EchoPods returns the Ready echo pods' addresses ("ip:port") in a cluster.
func (m *Mesh) EchoPods(ctx context.Context, name string) ([]string, error) {
	c := m.Clients[name]
	list, err := c.Clientset.CoreV1().Pods(m.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{workload.AppLabel: m.Service}.String()})
	if err != nil {
		return nil, fmt.Errorf("%s: list echo pods: %w", name, err)
	}
	var out []string
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" || !kube.PodReady(&p) {
			continue
		}
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(m.Port)).String())
	}
	slices.Sort(out)
	return out, nil
}

// GatewayAddress is the address of a cluster's east-west gateway on port.
func (m *Mesh) GatewayAddress(name string, port int) string {
	return net.JoinHostPort(m.State.Mesh.Clusters[name].EastWestGateway, strconv.Itoa(port))
}

// GatewayCannotRun says whether `up` found that a cluster's east-west gateway pods cannot run at all (no Envoy in
// the proxy image): the Envoy-dependent specs skip for it. A gateway that merely is not Ready is tested, and fails.
func (m *Mesh) GatewayCannotRun(name string) bool { return m.State.GatewayCannotRun(name) }

// ExposeIstiod is how remotes reach their primary's istiod (gateway or loadbalancer).
func (m *Mesh) ExposeIstiod() env.IstiodExposure {
	return cmp.Or(m.State.Mesh.ExposeIstiod, env.ExposeGateway)
}
