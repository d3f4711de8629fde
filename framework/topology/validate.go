package topology

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"regexp"
	"strings"

	"github.com/meshconform/meshconform/framework/network"
)

// FieldError is one problem in a topology: the field's path (as in the YAML,
// e.g. spec.clusters[1].role), what is wrong, and how to fix it.
type FieldError struct {
	Field   string
	Problem string
	Fix     string
}

// Error renders "field: problem: fix".
func (e *FieldError) Error() string {
	parts := make([]string, 0, 3)
	for _, s := range []string{e.Field, e.Problem, e.Fix} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ")
}

// ValidationError lists every problem found in a topology. Load, Parse and
// Validate return it (as error) whenever decoding succeeded far enough to
// look at the fields; use errors.As to get at the individual problems.
type ValidationError struct {
	// Source says where the topology came from (a file path, a built-in);
	// empty when unknown.
	Source   string
	Problems []*FieldError
}

// Error renders one problem per line, prefixed with the source.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

type problems []*FieldError

func (ps *problems) add(field, problem, fix string) {
	*ps = append(*ps, &FieldError{Field: field, Problem: problem, Fix: fix})
}

func (ps problems) err(source string) error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Source: source, Problems: ps}
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkDNSLabel reports why s is not a DNS-1123 label of at most max
// characters, or "" when it is one.
func checkDNSLabel(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("%q is %d characters long, more than %d", s, len(s), max)
	case !dns1123Label.MatchString(s):
		return fmt.Sprintf("%q is not a DNS label", s)
	}
	return ""
}

const dnsLabelFix = "use lowercase letters, digits and '-', starting and ending with a letter or digit"

// Validate checks a defaulted topology (call Default first; Load and Parse do)
// and returns nil or a *ValidationError listing every problem, each naming the
// field and the fix.
func (t *Topology) Validate() error {
	var ps problems
	t.validate(&ps)
	return ps.err("")
}

func (t *Topology) validate(ps *problems) {
	switch t.APIVersion {
	case APIVersion:
	case "":
		ps.add("apiVersion", "missing", "set apiVersion: "+APIVersion)
	default:
		ps.add("apiVersion", fmt.Sprintf("unsupported %q", t.APIVersion), "use "+APIVersion)
	}
	switch t.Kind {
	case Kind:
	case "":
		ps.add("kind", "missing", "set kind: "+Kind)
	default:
		ps.add("kind", fmt.Sprintf("unsupported %q", t.Kind), "use "+Kind)
	}
	if t.Metadata.Name == "" {
		ps.add("metadata.name", "missing", "name the topology, e.g. my-topology ("+dnsLabelFix+")")
	} else if p := checkDNSLabel(t.Metadata.Name, 63); p != "" {
		ps.add("metadata.name", p, dnsLabelFix+", at most 63 characters")
	}

	if t.Spec.Mesh.ID == "" {
		ps.add("spec.mesh.id", "empty", "set a mesh ID such as "+DefaultMeshID+" or leave the field out")
	} else if p := checkDNSLabel(t.Spec.Mesh.ID, 63); p != "" {
		ps.add("spec.mesh.id", p, dnsLabelFix+", at most 63 characters")
	}
	// Istio names istio-sidecar-injector-<revision> after it: a DNS label with room for that prefix.
	if p := checkDNSLabel(t.Spec.Mesh.Revision, MaxRevision); t.Spec.Mesh.Revision != "" && p != "" {
		ps.add("spec.mesh.revision", p, dnsLabelFix+fmt.Sprintf(", at most %d characters (e.g. canary, 1-31-0), or leave the field out", MaxRevision))
	}
	if p := checkTrustDomain(t.Spec.Mesh.TrustDomain); p != "" {
		ps.add("spec.mesh.trustDomain", p, "use a lowercase DNS name such as "+DefaultTrustDomain+" (not a spiffe:// URI)")
	}

	switch t.Spec.Networking {
	case NetworkingBridged, NetworkingIsolated:
	case "":
		ps.add("spec.networking", "empty", "use bridged or isolated, or leave the field out")
	default:
		ps.add("spec.networking", fmt.Sprintf("unknown mode %q", t.Spec.Networking), "use bridged or isolated")
	}

	t.validateClusters(ps)
}

func checkTrustDomain(td string) string {
	switch {
	case td == "":
		return "empty"
	case strings.Contains(td, "://"):
		return fmt.Sprintf("%q is a URI, not a trust domain", td)
	case len(td) > 253:
		return fmt.Sprintf("%q is longer than 253 characters", td)
	}
	for _, label := range strings.Split(td, ".") {
		if !dns1123Label.MatchString(label) || len(label) > 63 {
			return fmt.Sprintf("%q is not a DNS name", td)
		}
	}
	return ""
}

func clusterField(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("spec.clusters[%d]", i)
	}
	return fmt.Sprintf("spec.clusters[%d].%s", i, field)
}

func (t *Topology) validateClusters(ps *problems) {
	clusters := t.Spec.Clusters
	if len(clusters) == 0 {
		ps.add("spec.clusters", "no clusters", "list at least one cluster, e.g. {name: cluster1, role: primary}")
		return
	}

	// Names, roles, networks, workers, bring-your-own fields.
	firstIndex := map[string]int{}
	var byo, kind []string
	byoContexts := map[[2]string]int{}
	for i, c := range clusters {
		if c.Name == "" {
			ps.add(clusterField(i, "name"), "missing", "name the cluster, e.g. cluster"+fmt.Sprint(i+1))
		} else if p := checkDNSLabel(c.Name, MaxClusterNameLength); p != "" {
			ps.add(clusterField(i, "name"), p, fmt.Sprintf("%s, at most %d characters (kind derives container host names from it)", dnsLabelFix, MaxClusterNameLength))
		} else if j, dup := firstIndex[c.Name]; dup {
			ps.add(clusterField(i, "name"), fmt.Sprintf("duplicate name %q (also %s)", c.Name, clusterField(j, "name")), "give every cluster a unique name")
		} else {
			firstIndex[c.Name] = i
		}

		switch c.Role {
		case RolePrimary, RoleRemote:
		case "":
			ps.add(clusterField(i, "role"), "missing", "use primary or remote")
		default:
			ps.add(clusterField(i, "role"), fmt.Sprintf("unknown role %q", c.Role), "use primary or remote")
		}

		if c.Network == "" {
			ps.add(clusterField(i, "network"), "empty", "name a mesh network such as "+DefaultNetwork+" or leave the field out")
		} else if p := checkDNSLabel(c.Network, 63); p != "" {
			ps.add(clusterField(i, "network"), p, dnsLabelFix+", at most 63 characters")
		}

		if c.Workers < 0 || c.Workers > MaxWorkers {
			ps.add(clusterField(i, "workers"), fmt.Sprintf("%d is out of range", c.Workers), fmt.Sprintf("use 0 to %d worker nodes (0: the control-plane node runs workloads)", MaxWorkers))
		}

		switch {
		case c.Kubeconfig != "" && c.Context == "":
			ps.add(clusterField(i, "context"), "missing while kubeconfig is set", "set both kubeconfig and context to use an existing cluster, or neither to have meshconform create it")
		case c.Kubeconfig == "" && c.Context != "":
			ps.add(clusterField(i, "kubeconfig"), "missing while context is set", "set both kubeconfig and context to use an existing cluster, or neither to have meshconform create it")
		}
		if c.wantsBringYourOwn() {
			byo = append(byo, clusterLabel(i, c))
			for _, f := range []struct {
				name string
				set  bool
			}{{"workers", c.Workers != 0}, {"podSubnet", c.PodSubnet != ""}, {"serviceSubnet", c.ServiceSubnet != ""}} {
				if f.set {
					ps.add(clusterField(i, f.name), "set on a bring-your-own cluster, which meshconform does not create", "remove "+f.name+" (it only shapes clusters meshconform creates)")
				}
			}
			if c.BringYourOwn() {
				key := [2]string{c.Kubeconfig, c.Context}
				if j, dup := byoContexts[key]; dup {
					ps.add(clusterField(i, "context"), fmt.Sprintf("kubeconfig %q context %q is also used by %s", c.Kubeconfig, c.Context, clusterField(j, "")), "point every cluster at a different cluster")
				} else {
					byoContexts[key] = i
				}
			}
		} else {
			kind = append(kind, clusterLabel(i, c))
		}
	}
	if len(byo) > 0 && len(kind) > 0 {
		ps.add("spec.clusters",
			fmt.Sprintf("%s %s an existing cluster (kubeconfig/context) but %s would be created with kind; mixing bring-your-own and kind clusters in one topology is unsupported",
				strings.Join(byo, ", "), plural(len(byo), "uses", "use"), strings.Join(kind, ", ")),
			"give every cluster a kubeconfig and context, or none")
	}

	t.validatePrimaries(ps, firstIndex)
	t.validateSubnets(ps)
	t.validateClustersPerDockerNetwork(ps)
}

// MaxClustersPerDockerNetwork is how many clusters meshconform can create on one docker network: each takes a
// MetalLB pool from the network's high half (package network's address plan, where the limit is defined).
const MaxClustersPerDockerNetwork = network.MaxClustersPerNetwork

// validateClustersPerDockerNetwork caps the kind clusters on each docker network: bridged networking puts every
// cluster on one docker network, isolated networking gives each mesh network its own (as package provision lays
// them out). Without it, a topology with too many clusters on one network fails only after every cluster was created.
func (t *Topology) validateClustersPerDockerNetwork(ps *problems) {
	if t.BringYourOwn() {
		return // meshconform creates no network for existing clusters
	}
	switch t.Spec.Networking {
	case NetworkingBridged:
		n := 0
		for _, c := range t.Spec.Clusters {
			if !c.wantsBringYourOwn() {
				n++
			}
		}
		if n > MaxClustersPerDockerNetwork {
			ps.add("spec.clusters", fmt.Sprintf("%d clusters, but spec.networking: bridged puts every cluster on one docker network, which holds at most %d (each cluster takes a MetalLB pool of %d addresses from it)",
				n, MaxClustersPerDockerNetwork, network.PoolSize),
				fmt.Sprintf("use at most %d clusters, or set spec.networking: isolated and spread the clusters over several mesh networks (spec.clusters[].network), at most %d on each",
					MaxClustersPerDockerNetwork, MaxClustersPerDockerNetwork))
		}
	case NetworkingIsolated:
		count := map[string]int{}
		var order []string
		for _, c := range t.Spec.Clusters {
			if c.wantsBringYourOwn() {
				continue
			}
			n := networkOf(c)
			if count[n] == 0 {
				order = append(order, n)
			}
			count[n]++
		}
		for _, n := range order {
			if count[n] > MaxClustersPerDockerNetwork {
				ps.add("spec.clusters", fmt.Sprintf("%d clusters on mesh network %q, but spec.networking: isolated gives each mesh network one docker network, which holds at most %d (each cluster takes a MetalLB pool of %d addresses from it)",
					count[n], n, MaxClustersPerDockerNetwork, network.PoolSize),
					fmt.Sprintf("move clusters to other mesh networks (spec.clusters[].network), at most %d on each, or use fewer clusters", MaxClustersPerDockerNetwork))
			}
		}
	}
}

func clusterLabel(i int, c Cluster) string {
	if c.Name != "" {
		return c.Name
	}
	return clusterField(i, "")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (t *Topology) validatePrimaries(ps *problems, index map[string]int) {
	var primaries []string
	for _, c := range t.Spec.Clusters {
		if c.IsPrimary() && c.Name != "" {
			primaries = append(primaries, c.Name)
		}
	}
	if len(t.Primaries()) == 0 {
		ps.add("spec.clusters", "no cluster has role primary", "make at least one cluster a primary: remotes need a primary's istiod")
	}
	nameOne := "name one of the primaries: " + strings.Join(primaries, ", ")
	if len(primaries) == 0 {
		nameOne = "make a cluster a primary and name it here"
	}
	for i, c := range t.Spec.Clusters {
		switch c.Role {
		case RolePrimary:
			if c.Primary != "" {
				ps.add(clusterField(i, "primary"), fmt.Sprintf("set to %q on a primary", c.Primary), "remove it: only a remote names its primary")
			}
		case RoleRemote:
			if c.Primary == "" {
				continue // no primary at all: reported once above
			}
			j, ok := index[c.Primary]
			if !ok {
				ps.add(clusterField(i, "primary"), fmt.Sprintf("no cluster named %q", c.Primary), nameOne)
				continue
			}
			if p := t.Spec.Clusters[j]; !p.IsPrimary() {
				if p.Name == c.Name {
					ps.add(clusterField(i, "primary"), fmt.Sprintf("%q names the remote itself", c.Primary), nameOne)
				} else {
					ps.add(clusterField(i, "primary"), fmt.Sprintf("%q has role %q, not primary (a remote's primary must run istiod)", c.Primary, p.Role), nameOne)
				}
			}
		}
	}
}

type subnet struct {
	field  string
	prefix netip.Prefix
}

// validateSubnets checks each provisioned cluster's subnets and that no two
// of them (across all clusters, and pod vs service within a cluster) overlap.
func (t *Topology) validateSubnets(ps *problems) {
	var all []subnet
	for i, c := range t.Spec.Clusters {
		if c.wantsBringYourOwn() {
			continue
		}
		pod, podOK := parseSubnet(ps, clusterField(i, "podSubnet"), c.PodSubnet, i)
		svc, svcOK := parseSubnet(ps, clusterField(i, "serviceSubnet"), c.ServiceSubnet, i)
		if podOK {
			// kube-controller-manager hands every node a /24 (IPv4) or /64
			// (IPv6) out of the pod subnet.
			nodeMask := 24
			if pod.Addr().Is6() {
				nodeMask = 64
			}
			nodes := 1 + max(0, min(c.Workers, MaxWorkers))
			need := nodeMask - bits.Len(uint(nodes-1))
			if pod.Bits() > need {
				ps.add(clusterField(i, "podSubnet"), fmt.Sprintf("%s is too small for %d node(s), each taking a /%d", pod, nodes, nodeMask), fmt.Sprintf("use a /%d or larger", need))
			}
			all = append(all, subnet{clusterField(i, "podSubnet"), pod})
		}
		if svcOK {
			// The API server takes the first address and kube-dns the tenth.
			maxBits := 28
			if svc.Addr().Is6() {
				maxBits = 124
			}
			if svc.Bits() > maxBits {
				ps.add(clusterField(i, "serviceSubnet"), fmt.Sprintf("%s is too small (kube-dns takes the 10th address)", svc), fmt.Sprintf("use a /%d or larger", maxBits))
			}
			all = append(all, subnet{clusterField(i, "serviceSubnet"), svc})
		}
		if podOK && svcOK && pod.Addr().Is4() != svc.Addr().Is4() {
			ps.add(clusterField(i, "serviceSubnet"), fmt.Sprintf("%s and podSubnet %s are of different IP families", svc, pod), "use IPv4 for both or IPv6 for both")
		}
	}
	// Each subnet is reported against the first subnet before it that it overlaps (two prefixes overlap when one
	// contains the other), found in a binary trie of the prefixes so that this stays linear in the number of
	// clusters: at most 128 steps per subnet instead of a comparison with every other one.
	tr := &subnetTrie{}
	for i, s := range all {
		tr.insert(s.prefix, i)
	}
	for j, s := range all {
		if i := tr.firstOverlap(s.prefix); i < j {
			ps.add(s.field, fmt.Sprintf("%s overlaps %s %s", s.prefix, all[i].field, all[i].prefix),
				"choose a range no other pod or service subnet in the topology uses, or leave both subnets of every cluster empty to derive non-overlapping ones")
		}
	}
}

// subnetTrie is a binary trie of prefixes, one root per IP family, each node knowing the smallest index of a
// prefix stored at it (own) and in its subtree (sub).
type subnetTrie struct{ v4, v6 *trieNode }

type trieNode struct {
	child    [2]*trieNode
	own, sub int
}

func newTrieNode() *trieNode { return &trieNode{own: math.MaxInt, sub: math.MaxInt} }

func (tr *subnetTrie) root(p netip.Prefix, create bool) *trieNode {
	r := &tr.v6
	if p.Addr().Is4() {
		r = &tr.v4
	}
	if *r == nil && create {
		*r = newTrieNode()
	}
	return *r
}

func bitAt(a netip.Addr, i int) int {
	b := a.AsSlice()
	return int(b[i/8]>>(7-i%8)) & 1
}

func (tr *subnetTrie) insert(p netip.Prefix, index int) {
	n := tr.root(p, true)
	n.sub = min(n.sub, index)
	for i := range p.Bits() {
		b := bitAt(p.Addr(), i)
		if n.child[b] == nil {
			n.child[b] = newTrieNode()
		}
		n = n.child[b]
		n.sub = min(n.sub, index)
	}
	n.own = min(n.own, index)
}

// firstOverlap is the smallest index of a stored prefix that contains p or that p contains (p itself included
// when stored), math.MaxInt when none.
func (tr *subnetTrie) firstOverlap(p netip.Prefix) int {
	n := tr.root(p, false)
	best := math.MaxInt
	for i := 0; n != nil; i++ {
		if i == p.Bits() {
			return min(best, n.sub) // everything p contains, p included
		}
		best = min(best, n.own) // a prefix containing p
		n = n.child[bitAt(p.Addr(), i)]
	}
	return best
}

func parseSubnet(ps *problems, field, s string, i int) (netip.Prefix, bool) {
	if s == "" {
		ps.add(field, fmt.Sprintf("empty and cannot be derived (only the first %d clusters get derived subnets)", MaxDerivedClusters), "set it to a CIDR that overlaps no other cluster's subnets")
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		example, _ := DefaultPodSubnet(min(i, MaxDerivedClusters-1))
		if strings.HasSuffix(field, "serviceSubnet") {
			example, _ = DefaultServiceSubnet(min(i, MaxDerivedClusters-1))
		}
		ps.add(field, fmt.Sprintf("invalid CIDR %q", s), "use an address/prefix-length such as "+example)
		return netip.Prefix{}, false
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		ps.add(field, fmt.Sprintf("invalid CIDR %q", s), "use a plain IPv4 or IPv6 prefix")
		return netip.Prefix{}, false
	}
	if m := p.Masked(); m != p {
		ps.add(field, fmt.Sprintf("%s has host bits set", s), "use "+m.String())
		return m, true
	}
	return p, true
}
