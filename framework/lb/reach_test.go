package lb

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
)

// gateways says, per cluster, what `up` recorded of its east-west gateway.
type gateway int

const (
	gwRuns      gateway = iota // a gateway address, pods Ready
	gwNotReady                 // a gateway address, pods not Ready (tested, and fails)
	gwCannotRun                // a gateway address, pods cannot run here (no Envoy)
	gwNone                     // no gateway recorded (a mesh whose gateways meshconform did not install)
)

// builtin is the environment `up` records for a built-in topology: every cluster of a multi-network topology gets
// a gateway, in state gw.
func builtin(t *testing.T, name string, gw gateway) *env.State {
	t.Helper()
	topo, err := topology.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return withGateways(topo.NewState(t.TempDir(), "test"), func(string) gateway { return gw })
}

// twoByTwo is a 2+2 shape: cluster1 and cluster2 (its remote) on network1, cluster3 and cluster4 on network2.
func twoByTwo(t *testing.T, gw func(string) gateway) *env.State {
	t.Helper()
	st := env.New(t.TempDir(), "test", env.Topology{Name: "two-by-two", Networking: env.NetworkingIsolated})
	st.Clusters = []env.Cluster{
		{Name: "cluster1", Role: env.RolePrimary, Network: "network1"},
		{Name: "cluster2", Role: env.RoleRemote, Network: "network1", Primary: "cluster1"},
		{Name: "cluster3", Role: env.RolePrimary, Network: "network2"},
		{Name: "cluster4", Role: env.RolePrimary, Network: "network2"},
	}
	return withGateways(st, gw)
}

func withGateways(st *env.State, gw func(string) gateway) *env.State {
	st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{}}
	for i, c := range st.Clusters {
		mc := env.MeshCluster{}
		if st.MultiNetwork() {
			switch gw(c.Name) {
			case gwRuns:
				mc.EastWestGateway, mc.GatewayReady = fmt.Sprintf("172.30.%d.130", i+1), true
			case gwNotReady:
				mc.EastWestGateway = fmt.Sprintf("172.30.%d.130", i+1)
			case gwCannotRun:
				mc.EastWestGateway, mc.GatewayCannotRun = fmt.Sprintf("172.30.%d.130", i+1), true
			}
		}
		st.Mesh.Clusters[c.Name] = mc
	}
	return st
}

// render writes a reach compactly: groups as kind:name[members]/gateways, then the unreachable clusters.
func render(r Reach) string {
	var parts []string
	for _, g := range r.Groups {
		s := fmt.Sprintf("%s:%s[%s]", g.Kind, g.Name, strings.Join(g.Members, ","))
		if g.Gateways > 0 {
			s += fmt.Sprintf("/%d", g.Gateways)
		}
		parts = append(parts, s)
	}
	var un []string
	for c := range r.Unreachable {
		un = append(un, c)
	}
	slices.Sort(un)
	if len(un) > 0 {
		parts = append(parts, "unreachable:"+strings.Join(un, ","))
	}
	return strings.Join(parts, " ")
}

func TestReachGroups(t *testing.T) {
	all := func(g gateway) func(string) gateway { return func(string) gateway { return g } }
	for _, tc := range []struct {
		name  string
		st    *env.State
		src   string
		conns Connections
		want  string
	}{
		{"one network: every cluster, directly", builtin(t, "multi-primary", gwRuns), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2]"},
		{"a remote on one network counts like a primary", builtin(t, "primary-remote", gwRuns), "cluster2", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2]"},
		{"two networks: the other network through its gateway", builtin(t, "multi-primary-multi-network", gwRuns), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] network:network2[cluster2]/1"},
		{"a remote on its own network reaches its primary's network", builtin(t, "primary-remote-multi-network", gwRuns), "cluster2", ConnectionsReused,
			"cluster:cluster2[cluster2] network:network1[cluster1]/1"},
		{"mix-3 from cluster1: both clusters of network1, network2 through cluster3's gateway", builtin(t, "mix-3-cluster", gwRuns), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2] network:network2[cluster3]/1"},
		{"mix-3 from cluster3: network1 is one group behind two gateways", builtin(t, "mix-3-cluster", gwRuns), "cluster3", ConnectionsReused,
			"cluster:cluster3[cluster3] network:network1[cluster1,cluster2]/2"},
		{"mix-3 from cluster3, fresh connections per call: every cluster of network1", builtin(t, "mix-3-cluster", gwRuns), "cluster3", ConnectionsPerCall,
			"cluster:cluster3[cluster3] remoteCluster:cluster1[cluster1]/2 remoteCluster:cluster2[cluster2]/2"},
		{"mix-3 offline: network1's gateways cannot run", builtin(t, "mix-3-cluster", gwCannotRun), "cluster3", ConnectionsReused,
			"cluster:cluster3[cluster3] unreachable:cluster1,cluster2"},
		{"mix-3 offline from cluster2: network1 still reaches its own clusters", builtin(t, "mix-3-cluster", gwCannotRun), "cluster2", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2] unreachable:cluster3"},
		{"a gateway that is merely not Ready is expected to work", builtin(t, "multi-primary-multi-network", gwNotReady), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] network:network2[cluster2]/1"},
		{"no gateway recorded: the network is expected behind one address", builtin(t, "mix-3-cluster", gwNone), "cluster3", ConnectionsReused,
			"cluster:cluster3[cluster3] network:network1[cluster1,cluster2]/1"},
		{"2+2: the other network is one group of two clusters behind two gateways", twoByTwo(t, all(gwRuns)), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2] network:network2[cluster3,cluster4]/2"},
		{"2+2, fresh connections per call", twoByTwo(t, all(gwRuns)), "cluster4", ConnectionsPerCall,
			"cluster:cluster3[cluster3] cluster:cluster4[cluster4] remoteCluster:cluster1[cluster1]/2 remoteCluster:cluster2[cluster2]/2"},
		{"2+2, one of network2's gateways cannot run: one address left", twoByTwo(t, func(c string) gateway {
			if c == "cluster4" {
				return gwCannotRun
			}
			return gwRuns
		}), "cluster1", ConnectionsReused,
			"cluster:cluster1[cluster1] cluster:cluster2[cluster2] network:network2[cluster3,cluster4]/1"},
		{"a source outside the environment reaches nothing", builtin(t, "multi-primary", gwRuns), "cluster9", ConnectionsReused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ReachGroups(tc.st, tc.src, tc.conns)
			if got := render(r); got != tc.want {
				t.Errorf("groups from %s:\n got %s\nwant %s", tc.src, got, tc.want)
			}
			if r.Source != tc.src || r.Connections != tc.conns || !slices.Equal(r.Mesh, tc.st.Names()) {
				t.Errorf("reach lost its context: %+v", r)
			}
			// Every cluster of the mesh is in exactly one group or unreachable (when the source is in the mesh).
			if tc.st.Cluster(tc.src) != nil {
				for _, c := range tc.st.Names() {
					n := 0
					for _, g := range r.Groups {
						if slices.Contains(g.Members, c) {
							n++
						}
					}
					if _, un := r.Unreachable[c]; n+btoi(un) != 1 {
						t.Errorf("%s is in %d groups, unreachable=%v", c, n, un)
					}
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestReachGroupsSayWhyAClusterIsUnreachable(t *testing.T) {
	r := ReachGroups(builtin(t, "mix-3-cluster", gwCannotRun), "cluster3", ConnectionsReused)
	want := "it is on network1, whose east-west gateways (cluster1, cluster2) cannot run here (no Envoy)"
	if r.Unreachable["cluster1"] != want || r.Unreachable["cluster2"] != want {
		t.Fatalf("unreachable = %v, want %q for both", r.Unreachable, want)
	}
}

func TestClientConnections(t *testing.T) {
	for _, tc := range []struct {
		dp    env.DataPlane
		fresh bool
		want  Connections
	}{
		// Envoy pools its upstream connections to a gateway whatever the application does.
		{env.DataPlaneSidecar, false, ConnectionsReused},
		{env.DataPlaneSidecar, true, ConnectionsReused},
		// A proxyless channel connects to the gateway itself: it lives as long as the channel.
		{env.DataPlaneProxyless, false, ConnectionsReused},
		{env.DataPlaneProxyless, true, ConnectionsPerCall},
	} {
		if got := ClientConnections(tc.dp, tc.fresh); got != tc.want {
			t.Errorf("ClientConnections(%s, freshChannelPerCall=%v) = %s, want %s", tc.dp, tc.fresh, got, tc.want)
		}
	}
}

func oneEach(st *env.State) map[string]int {
	e := map[string]int{}
	for _, c := range st.Names() {
		e[c] = 1
	}
	return e
}

func TestNewGroupPlanShares(t *testing.T) {
	for _, tc := range []struct {
		name     string
		st       *env.State
		src      string
		conns    Connections
		shares   string // group=share, as NewGroupPlan computes them
		requests int
	}{
		// network1: 2 of 3 endpoints, but two of three addresses with one maybe unconnected: min(2/3, 1/(1+1)).
		{"mix-3 from cluster3", builtin(t, "mix-3-cluster", gwRuns), "cluster3", ConnectionsReused,
			"cluster3=0.333 network1=0.5", 35},
		{"mix-3 from cluster1", builtin(t, "mix-3-cluster", gwRuns), "cluster1", ConnectionsReused,
			"cluster1=0.333 cluster2=0.333 network2=0.333", 37},
		// network2: min(2/4, 1/(1+2)).
		{"2+2 from cluster1", twoByTwo(t, func(string) gateway { return gwRuns }), "cluster1", ConnectionsReused,
			"cluster1=0.25 cluster2=0.25 network2=0.333", 51},
		// each cluster of network2 gets half of the route's 1/3.
		{"2+2 from cluster1, fresh connections per call", twoByTwo(t, func(string) gateway { return gwRuns }), "cluster1", ConnectionsPerCall,
			"cluster1=0.25 cluster2=0.25 cluster3=0.167 cluster4=0.167", 80},
		{"two networks of one cluster each", builtin(t, "multi-primary-multi-network", gwRuns), "cluster2", ConnectionsReused,
			"cluster2=0.5 network1=0.5", 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewGroupPlan(ReachGroups(tc.st, tc.src, tc.conns), oneEach(tc.st), MaxFalseAlarm)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range p.Groups {
				got = append(got, fmt.Sprintf("%s=%.3g", g.Name, g.Share))
			}
			if strings.Join(got, " ") != tc.shares {
				t.Errorf("shares %s, want %s", strings.Join(got, " "), tc.shares)
			}
			if p.Requests != tc.requests || p.FalseAlarmBound > MaxFalseAlarm || p.bound(p.Requests-1) <= MaxFalseAlarm {
				t.Errorf("requests %d (bound %.2g, one fewer %.2g), want %d", p.Requests, p.FalseAlarmBound, p.bound(p.Requests-1), tc.requests)
			}
			sum := 0.0
			for _, s := range p.Shares {
				sum += s
			}
			if math.Abs(sum-1) > 1e-9 || len(p.Shares) != len(tc.st.Names()) {
				t.Errorf("per-cluster shares %v: want every cluster's endpoint share, summing to 1", p.Shares)
			}
		})
	}
}

func TestNewGroupPlanNeedsTwoGroups(t *testing.T) {
	// mix-3 offline from cluster3: network1 unreachable, only cluster3 is left.
	r := ReachGroups(builtin(t, "mix-3-cluster", gwCannotRun), "cluster3", ConnectionsReused)
	_, err := NewGroupPlan(r, map[string]int{"cluster1": 1, "cluster2": 1, "cluster3": 1}, MaxFalseAlarm)
	if err == nil || !strings.Contains(err.Error(), "at least two clusters or networks") || !strings.Contains(err.Error(), "cluster3: 1 endpoints") {
		t.Fatalf("err = %v", err)
	}
	// A network whose clusters run no echo pods is not required, and then one group is left too.
	r = ReachGroups(builtin(t, "mix-3-cluster", gwRuns), "cluster3", ConnectionsReused)
	if _, err := NewGroupPlan(r, map[string]int{"cluster1": 0, "cluster2": 0, "cluster3": 1}, MaxFalseAlarm); err == nil {
		t.Fatal("a plan with one required group was accepted")
	}
}

func TestJudgeGroups(t *testing.T) {
	mix3 := builtin(t, "mix-3-cluster", gwRuns)
	offline := builtin(t, "mix-3-cluster", gwCannotRun)
	plan := func(st *env.State, src string, conns Connections) Plan {
		t.Helper()
		p, err := NewGroupPlan(ReachGroups(st, src, conns), oneEach(st), MaxFalseAlarm)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fromCluster3 := plan(mix3, "cluster3", ConnectionsReused) // 35 calls
	fromCluster2 := plan(offline, "cluster2", ConnectionsReused)
	from2x2 := plan(twoByTwo(t, func(string) gateway { return gwRuns }), "cluster1", ConnectionsReused) // 51 calls
	for _, tc := range []struct {
		name    string
		plan    Plan
		src     string
		tally   map[string]int
		pass    bool
		reason  string
		missing []string
		unexp   []string
	}{
		{"pinned to cluster1 behind network1's gateways: a pass", fromCluster3, "cluster3", map[string]int{"cluster3": 12, "cluster1": 23}, true,
			"every cluster of network2 and every other network answered: cluster3=12; network1 (cluster1, cluster2): reached via cluster1 (cluster1=23 cluster2=0)", nil, nil},
		{"both clusters of network1 answering is a pass too", fromCluster3, "cluster3", map[string]int{"cluster3": 12, "cluster1": 11, "cluster2": 12}, true,
			"network1 (cluster1, cluster2): reached via cluster1, cluster2 (cluster1=11 cluster2=12)", nil, nil},
		{"network1 never reached", fromCluster3, "cluster3", map[string]int{"cluster3": 35}, false,
			"network1 (cluster1, cluster2) received none of 35 calls from cluster3 (cluster3=35; network1 (cluster1, cluster2): not reached (cluster1=0 cluster2=0)); a healthy mesh fails this with probability <= 6.9e-07",
			[]string{"cluster1", "cluster2"}, nil},
		{"2+2: network2 reached via cluster4", from2x2, "cluster1", map[string]int{"cluster1": 13, "cluster2": 12, "cluster4": 26}, true,
			"network2 (cluster3, cluster4): reached via cluster4 (cluster3=0 cluster4=26)", nil, nil},
		{"2+2: an own-network cluster never reached", from2x2, "cluster1", map[string]int{"cluster1": 25, "cluster3": 13, "cluster4": 13}, false,
			"cluster2 received none of 51 calls from cluster1 (cluster1=25; cluster2=0; network2 (cluster3, cluster4): reached via cluster3, cluster4 (cluster3=13 cluster4=13))",
			[]string{"cluster2"}, nil},
		{"a cluster outside the mesh answering", from2x2, "cluster1", map[string]int{"cluster1": 20, "cluster2": 15, "cluster3": 15, "rogue": 1}, false,
			"calls from cluster1 reached clusters they must not (rogue=1: not a cluster of this mesh)", nil, []string{"rogue"}},
		{"a cluster the calls cannot reach here answering", fromCluster2, "cluster2", map[string]int{"cluster1": 10, "cluster2": 10, "cluster3": 1}, false,
			"calls from cluster2 reached clusters they must not (cluster3=1: it is on network2, whose east-west gateways (cluster3) cannot run here (no Envoy))", nil, []string{"cluster3"}},
		{"a missing group and an unexpected cluster are both named", fromCluster3, "cluster3", map[string]int{"cluster3": 34, "rogue": 1}, false,
			"network1 (cluster1, cluster2) received none of 35 calls from cluster3 (cluster3=34; network1 (cluster1, cluster2): not reached (cluster1=0 cluster2=0); rogue=1); a healthy mesh fails this with probability <= 6.9e-07; also calls from cluster3 reached clusters they must not (rogue=1: not a cluster of this mesh)",
			[]string{"cluster1", "cluster2"}, []string{"rogue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.plan, tc.src, tc.tally, 0, 2)
			if v.Pass != tc.pass || !strings.Contains(v.Reason, tc.reason) {
				t.Fatalf("verdict pass=%v reason:\n%s\nwant pass=%v reason containing:\n%s", v.Pass, v.Reason, tc.pass, tc.reason)
			}
			if !slices.Equal(v.Missing, tc.missing) || !slices.Equal(v.Unexpected, tc.unexp) {
				t.Errorf("missing %v unexpected %v, want %v %v", v.Missing, v.Unexpected, tc.missing, tc.unexp)
			}
			if len(v.Groups) != len(tc.plan.Groups) {
				t.Errorf("group tallies %+v for %d groups", v.Groups, len(tc.plan.Groups))
			}
		})
	}
}
