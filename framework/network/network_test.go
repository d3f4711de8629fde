package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAddressPlanKeepsPoolsAwayFromNodesAndGateway(t *testing.T) {
	n := Network{Name: "meshconform-network1", Subnet: netip.MustParsePrefix("172.30.5.0/24")}
	if got := n.Gateway().String(); got != "172.30.5.1" {
		t.Fatalf("gateway %s", got)
	}
	if n.NodeRange().Overlaps(n.LBRange()) {
		t.Fatalf("node range %s overlaps LB range %s", n.NodeRange(), n.LBRange())
	}
	var prevLast netip.Addr
	for i := 0; i < MaxClustersPerNetwork; i++ {
		first, last, err := n.Pool(i)
		if err != nil {
			t.Fatal(err)
		}
		if !n.LBRange().Contains(first) || !n.LBRange().Contains(last) {
			t.Fatalf("pool %d %s-%s outside LB range %s", i, first, last, n.LBRange())
		}
		if n.NodeRange().Contains(first) || first == n.Gateway() {
			t.Fatalf("pool %d starts in node range or at gateway: %s", i, first)
		}
		if last.String() == "172.30.5.255" {
			t.Fatalf("pool %d includes the broadcast address", i)
		}
		if i > 0 && first.Compare(prevLast) <= 0 {
			t.Fatalf("pool %d (%s) overlaps pool %d (ends %s)", i, first, i-1, prevLast)
		}
		prevLast = last
	}
	if _, _, err := n.Pool(MaxClustersPerNetwork); err == nil || !strings.Contains(err.Error(), "at most 7 clusters") {
		t.Fatalf("pool beyond capacity: err = %v", err)
	}
}

func TestPickSubnetsAvoidsUsedPrefixes(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("172.30.1.0/24"),  // an existing docker network
		netip.MustParsePrefix("172.30.2.64/26"), // a host route inside a candidate
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	got, err := PickSubnets(3, used)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"172.30.3.0/24", "172.30.4.0/24", "172.30.5.0/24"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := PickSubnets(1, []netip.Prefix{netip.MustParsePrefix("172.30.0.0/15")}); err == nil {
		t.Fatal("expected an error when every candidate is used")
	}
}

func TestBridgeNameFitsInterfaceLimit(t *testing.T) {
	a, b := BridgeName("meshconform-network1"), BridgeName("meshconform-network2")
	if len(a) > 15 || a == b || a != BridgeName("meshconform-network1") {
		t.Fatalf("bridge names %q %q: must be stable, distinct, <= 15 bytes", a, b)
	}
}

func TestIsolationAllowsOnlyLBRangesAndAPIServers(t *testing.T) {
	n1 := Network{Name: "n1", Bridge: "mc-1", Subnet: netip.MustParsePrefix("172.30.1.0/24")}
	n2 := Network{Name: "n2", Bridge: "mc-2", Subnet: netip.MustParsePrefix("172.30.2.0/24")}
	api := map[string][]netip.Addr{"n2": {netip.MustParseAddr("172.30.2.2")}, "n1": {netip.MustParseAddr("172.30.1.2")}}
	allows := IsolationAllows([]Network{n1, n2}, api)
	if len(allows) != 4 {
		t.Fatalf("want 4 allows (LB range + API server, each direction), got %d: %+v", len(allows), allows)
	}
	for _, a := range allows {
		if a.FromBridge == a.ToBridge {
			t.Fatalf("rule within one network: %+v", a)
		}
		to := n1
		if a.ToBridge == "mc-2" {
			to = n2
		}
		switch {
		case a.Dest == to.LBRange() && a.Port == 0:
		case a.Dest.Bits() == 32 && a.Port == 6443 && a.Dest.Addr() == api[to.Name][0]:
		default:
			t.Fatalf("unexpected allow %+v: only LB ranges and API servers may cross", a)
		}
		if a.Dest.Overlaps(to.NodeRange()) && a.Port != 6443 {
			t.Fatalf("allow %+v opens node addresses of %s", a, to.Name)
		}
	}
	args := strings.Join(allows[0].args(EnvRuleTag("topo")), " ")
	for _, want := range []string{"-i mc-1", "-o mc-2", "--comment meshconform:env:topo", "-j ACCEPT"} {
		if !strings.Contains(args, want) {
			t.Fatalf("rule %q lacks %q", args, want)
		}
	}
}

func TestPeerRoutesCoverEveryNodeAndSkipSelf(t *testing.T) {
	nodes := map[string][]string{"c1": {"c1-cp", "c1-w"}, "c2": {"c2-cp"}}
	cidrs := map[string][]netip.Prefix{
		"c1": {netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("10.255.10.0/24")},
		"c2": {netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("10.255.20.0/24")},
	}
	via := map[string]netip.Addr{"c1": netip.MustParseAddr("172.30.1.2"), "c2": netip.MustParseAddr("172.30.1.3")}
	routes := PeerRoutes(nodes, cidrs, via)
	if len(routes) != 6 { // c1's 2 nodes x c2's 2 CIDRs + c2's node x c1's 2 CIDRs
		t.Fatalf("want 6 routes, got %d: %+v", len(routes), routes)
	}
	for _, r := range routes {
		own := "c1"
		if strings.HasPrefix(r.Node, "c2") {
			own = "c2"
		}
		for _, c := range cidrs[own] {
			if c == r.Dest {
				t.Fatalf("route to own CIDR %s on %s", c, r.Node)
			}
		}
		if r.Via == via[own] {
			t.Fatalf("route on %s via its own cluster", r.Node)
		}
	}
}

func TestIsolationDropsOnlyAcrossMeshNetworks(t *testing.T) {
	ip := netip.MustParseAddr
	cidr := netip.MustParsePrefix
	cs := []ClusterAddrs{
		{MeshNetwork: "network1", NodeIPs: []netip.Addr{ip("172.30.1.2"), ip("172.30.1.3")}, CIDRs: []netip.Prefix{cidr("10.10.0.0/16"), cidr("10.255.10.0/24")}},
		{MeshNetwork: "network1", NodeIPs: []netip.Addr{ip("172.30.1.4")}, CIDRs: []netip.Prefix{cidr("10.20.0.0/16"), cidr("10.255.20.0/24")}},
		{MeshNetwork: "network2", NodeIPs: []netip.Addr{ip("172.30.2.2")}, CIDRs: []netip.Prefix{cidr("10.30.0.0/16"), cidr("10.255.30.0/24")}},
	}
	drops := IsolationDrops(cs)
	// network1's 3 nodes x network2's 2 CIDRs + network2's node x network1's 4 CIDRs
	if len(drops) != 10 {
		t.Fatalf("want 10 drops, got %d: %+v", len(drops), drops)
	}
	for _, d := range drops {
		if d.Source == ip("172.30.1.4") && d.Dest == cidr("10.10.0.0/16") {
			t.Fatalf("drop between clusters of the same mesh network: %+v", d)
		}
		if d.Source == ip("172.30.2.2") && d.Dest == cidr("10.30.0.0/16") {
			t.Fatalf("drop into the cluster's own CIDR: %+v", d)
		}
	}
	args := strings.Join(drops[0].args(EnvRuleTag("t")), " ")
	if !strings.Contains(args, "-s 172.30.1.2/32") || !strings.Contains(args, "-j DROP") || !strings.Contains(args, "meshconform:env:t") {
		t.Fatalf("drop rule %q", args)
	}
}

// Docker >= 28's direct access filtering, as `iptables -t raw -S PREROUTING` shows it on a machine with one of our
// node addresses filtered and other containers' rules.
func TestDirectAccessDrops(t *testing.T) {
	listing := `-P PREROUTING ACCEPT
-A PREROUTING -d 172.30.2.2/32 ! -i br-0f3a -j DROP
-A PREROUTING -d 172.17.0.5/32 ! -i docker0 -j DROP
-A PREROUTING -d 172.30.2.3/32 -i br-0f3a -j ACCEPT
-A PREROUTING -d 172.30.2.4/32 ! -i br-0f3a -j ACCEPT`
	ours := []netip.Addr{netip.MustParseAddr("172.30.2.2"), netip.MustParseAddr("172.30.2.3"), netip.MustParseAddr("172.30.2.4")}
	got := directAccessDrops(listing, ours)
	if len(got) != 1 || got[0] != "-A PREROUTING -d 172.30.2.2/32 ! -i br-0f3a -j DROP" {
		t.Errorf("drops %q, want only the one dropping our 172.30.2.2", got)
	}
	if got := directAccessDrops(listing, nil); len(got) != 0 {
		t.Errorf("no addresses of ours: %q", got)
	}
}
