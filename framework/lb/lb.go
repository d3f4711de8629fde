// Package lb judges cross-cluster load balancing from call tallies.
//
// The question is "do calls from this cluster reach what the mesh promises they reach, or do they stay local?". What
// the mesh promises is modelled as reach groups (ReachGroups): every cluster of the caller's network, and every other
// network (reached when one of its clusters answers: its east-west gateway balances per connection, and clients keep
// their connections), or every cluster behind it for a client that opens a fresh connection per call. The verdict is
// a hypothesis test whose false-alarm rate (declaring a healthy mesh broken) is stated and bounded, using the fewest
// calls that reach the bound:
//
//   - Routes: the client balances each call over addresses: the pods of the clusters on its network, and for every
//     other network that network's gateway addresses. A route r is one cluster's pods (e_r endpoints, a_r = e_r
//     addresses) or one network's gateways (the e_r endpoints of its clusters behind a_r gateway addresses). E and A
//     are the sums of e_r and a_r over the routes with endpoints.
//   - Healthy model: each call takes route r with probability at least
//     p_r = min(e_r/E, 1/(1 + A - a_r)).
//     The first term is for a balancer that honours istiod's weights (Envoy; a gateway endpoint weighs as much as the
//     endpoints behind it). The second is for one that ignores weights and spreads calls over the addresses it has
//     connected (gRPC's round robin and least-request): the warm-up guarantees at least one connected address per
//     route, and the worst case is r with one and every other route with all of its own. Random picks meet these
//     bounds; round robin spreads calls more evenly still, so the bound below holds for it too.
//   - A group takes p_g = p_r * e_g/e_r of its route: all of it for a cluster of the caller's network and for a
//     network group (whichever cluster the gateway pinned the connection to, the call reaches the group); the
//     gateway's per-connection pick, in proportion to endpoints, for a remote cluster with fresh connections.
//   - Test: the verdict fails when some group with endpoints receives none of n calls, when any call fails, or when a
//     cluster outside every group answers (a cluster the calls cannot reach here, or one not in the mesh).
//   - False alarm: under the healthy model, P(some group gets 0 of n) <= sum_g (1-p_g)^n. NewGroupPlan picks the
//     smallest n that brings this under the requested rate (<= 1e-6): 21 calls for two clusters with one pod each,
//     37 for three (on one network, or behind one-cluster networks), 35 from cluster3 of mix-3-cluster (cluster3 1/3,
//     network1 of cluster1 and cluster2 behind two gateways 1/2), 51 from a cluster of a 2+2 shape (two clusters per
//     network: 1/4, 1/4 and the other network 1/3). Which cluster of a network group answers does not enter the
//     bound: pinning decides which member answers, never whether the route is taken. The simulation in sim_test.go
//     checks each group's share against healthy meshes with per-connection pinning.
//   - Miss: traffic that stays local never reaches another group, so it always fails the test.
//
// Assumptions, and how the suites meet them: the judged client sends no other traffic meanwhile (least-request would
// steer away from busy endpoints); failed calls fail the verdict outright and are not covered by the rate; a spec
// judging S sources plans each with alpha/S, so the spec's rate stays within alpha.
//
// The model also assumes the client already knows every route: a fresh gRPC channel sends its first calls to the
// first endpoint that became ready (12/0 splits are measured). The client therefore warms up until every group has
// answered once (WarmUp), and only the calls after that are judged.
package lb

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// MaxFalseAlarm is the largest false-alarm rate a plan accepts.
const MaxFalseAlarm = 1e-6

// MaxRequests caps a plan, so a tiny share (many clusters, one pod among hundreds) is refused, not run forever.
const MaxRequests = 2000

// Plan is how many calls one source sends and what it expects.
type Plan struct {
	// Shares maps each cluster with endpoints in some group to its share of those endpoints (they sum to 1): what a
	// weighted balancer gives it on average, for the report's chart. The test uses the groups' shares.
	Shares map[string]float64 `json:"shares"`
	// Groups are what the calls must reach, each with its endpoints and least share p_g; a group without endpoints
	// is not required (its clusters may answer, they need not).
	Groups []PlannedGroup `json:"groups,omitempty"`
	// Connections is how the client's connections to remote gateways live (ConnectionsReused: network groups).
	Connections Connections `json:"connections,omitempty"`
	// Unreachable maps clusters of the mesh the calls cannot reach here to why; Mesh lists every cluster of the mesh
	// (empty for a plan made without the environment, NewPlan). Both only explain unexpected answers.
	Unreachable map[string]string `json:"unreachable,omitempty"`
	Mesh        []string          `json:"mesh,omitempty"`
	// Requests is the number of judged calls.
	Requests int `json:"requests"`
	// FalseAlarmBound is the bound sum_g (1-p_g)^n for Requests: the chance a healthy mesh fails the test.
	FalseAlarmBound float64 `json:"falseAlarmBound"`
	// FalseAlarmTarget is the rate the plan was asked to stay under.
	FalseAlarmTarget float64 `json:"falseAlarmTarget"`
}

// PlannedGroup is a reach group with what the plan expects of it.
type PlannedGroup struct {
	Group
	// Endpoints counts the ready echo endpoints of the group's clusters.
	Endpoints int `json:"endpoints"`
	// Share is p_g, the least probability that a call reaches the group on a healthy mesh (0: no endpoints).
	Share float64 `json:"share"`
}

// Required says whether the calls must reach the group: it has endpoints.
func (g PlannedGroup) Required() bool { return g.Endpoints > 0 }

// NewPlan plans calls for a service with endpoints[c] ready endpoints in cluster c, every cluster a group of its own
// called directly (one network, no gateway). Clusters with no endpoints are not required: they do not run the
// service.
func NewPlan(endpoints map[string]int, alpha float64) (Plan, error) {
	names := make([]string, 0, len(endpoints))
	for c := range endpoints {
		names = append(names, c)
	}
	sort.Strings(names)
	r := Reach{Connections: ConnectionsReused}
	for _, c := range names {
		r.Groups = append(r.Groups, Group{Name: c, Kind: GroupCluster, Members: []string{c}})
	}
	return NewGroupPlan(r, endpoints, alpha)
}

// NewGroupPlan computes the fewest calls that keep the false-alarm rate under alpha for calls that must reach r's
// groups, with endpoints[c] ready endpoints of the service in cluster c (see the package doc for the shares).
func NewGroupPlan(r Reach, endpoints map[string]int, alpha float64) (Plan, error) {
	if alpha <= 0 || alpha > MaxFalseAlarm {
		return Plan{}, fmt.Errorf("false-alarm rate %g: must be in (0, %g]", alpha, MaxFalseAlarm)
	}
	for c, n := range endpoints {
		if n < 0 {
			return Plan{}, fmt.Errorf("cluster %s: negative endpoint count %d", c, n)
		}
	}
	type route struct{ endpoints, addresses int }
	routes := map[string]*route{}
	p := Plan{Shares: map[string]float64{}, Connections: r.Connections, Mesh: r.Mesh, FalseAlarmTarget: alpha}
	if len(r.Unreachable) > 0 {
		p.Unreachable = r.Unreachable
	}
	for _, g := range r.Groups {
		pg := PlannedGroup{Group: g}
		for _, m := range g.Members {
			pg.Endpoints += endpoints[m]
		}
		rt := routes[g.Route()]
		if rt == nil {
			rt = &route{}
			routes[g.Route()] = rt
		}
		rt.endpoints += pg.Endpoints
		if g.Kind != GroupCluster {
			rt.addresses = max(g.Gateways, 1)
		}
		p.Groups = append(p.Groups, pg)
	}
	total, addresses := 0, 0
	for _, rt := range routes {
		if rt.endpoints == 0 {
			continue
		}
		if rt.addresses == 0 { // a cluster called directly: one address per pod
			rt.addresses = rt.endpoints
		}
		total += rt.endpoints
		addresses += rt.addresses
	}
	required := 0
	for i := range p.Groups {
		g := &p.Groups[i]
		if !g.Required() {
			continue
		}
		required++
		rt := routes[g.Route()]
		pr := math.Min(float64(rt.endpoints)/float64(total), 1/float64(1+addresses-rt.addresses))
		g.Share = pr * float64(g.Endpoints) / float64(rt.endpoints)
		for _, m := range g.Members {
			if endpoints[m] > 0 {
				p.Shares[m] = float64(endpoints[m]) / float64(total)
			}
		}
	}
	if required < 2 {
		return Plan{}, fmt.Errorf("load balancing needs the service in at least two clusters or networks the calls must reach, have %s",
			describeEndpoints(p.Groups))
	}
	n := 1
	for ; n <= MaxRequests; n++ {
		if p.bound(n) <= alpha {
			break
		}
	}
	if n > MaxRequests {
		return Plan{}, fmt.Errorf("group shares %s need more than %d calls for a false-alarm rate of %g", describeShares(p.Groups), MaxRequests, alpha)
	}
	p.Requests, p.FalseAlarmBound = n, p.bound(n)
	return p, nil
}

// bound is sum_g (1-p_g)^n over the required groups: by the union bound, the chance that some group gets none of n
// healthy calls.
func (p Plan) bound(n int) float64 {
	var shares []float64
	for _, g := range p.Groups {
		if g.Required() {
			shares = append(shares, g.Share)
		}
	}
	return bound(shares, n)
}

func bound(shares []float64, n int) float64 {
	s := 0.0
	for _, p := range shares {
		s += math.Pow(1-p, float64(n))
	}
	return s
}

func describeEndpoints(gs []PlannedGroup) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, fmt.Sprintf("%s: %d endpoints", g, g.Endpoints))
	}
	if len(parts) == 0 {
		return "no cluster"
	}
	return strings.Join(parts, ", ")
}

func describeShares(gs []PlannedGroup) string {
	var parts []string
	for _, g := range gs {
		if g.Required() {
			parts = append(parts, fmt.Sprintf("%s=%.3g", g, g.Share))
		}
	}
	return strings.Join(parts, " ")
}

// Clusters are the clusters with endpoints in the plan's groups, sorted.
func (p Plan) Clusters() []string {
	cs := make([]string, 0, len(p.Shares))
	for c := range p.Shares {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

// WarmUp lists, for each required group, the clusters any of which answering once warms the group up.
func (p Plan) WarmUp() [][]string {
	var out [][]string
	for _, g := range p.Groups {
		if g.Required() {
			out = append(out, slices.Clone(g.Members))
		}
	}
	return out
}

// Verdict is the judgement of one source's calls, kept whole for the report.
type Verdict struct {
	Source string `json:"source"`
	Plan   Plan   `json:"plan"`
	// Tally counts judged calls by the cluster that answered.
	Tally map[string]int `json:"tally"`
	// Failed counts judged calls that got no answer.
	Failed int `json:"failed"`
	// WarmupCalls is how many calls the client made before it had reached every group (not judged).
	WarmupCalls int `json:"warmupCalls"`
	// Groups are the plan's groups as the calls reached them, in plan order.
	Groups []GroupTally `json:"groups,omitempty"`
	// Missing are the clusters of the required groups that got none of the judged calls.
	Missing []string `json:"missing,omitempty"`
	// Unexpected are answering clusters outside every group: clusters the calls cannot reach here, or clusters not
	// in the mesh. They fail the verdict.
	Unexpected []string `json:"unexpected,omitempty"`
	Pass       bool     `json:"pass"`
	Reason     string   `json:"reason"`
}

// GroupTally is how the judged calls reached one group.
type GroupTally struct {
	Name string `json:"name"`
	// Calls is the number of judged calls its clusters answered; ReachedVia the clusters that answered any.
	Calls      int      `json:"calls"`
	ReachedVia []string `json:"reachedVia,omitempty"`
}

// Judge applies the test to the judged calls of one source.
func Judge(p Plan, source string, tally map[string]int, failed, warmup int) Verdict {
	v := Verdict{Source: source, Plan: p, Tally: map[string]int{}, Failed: failed, WarmupCalls: warmup}
	allowed := map[string]bool{}
	for _, g := range p.Groups {
		for _, m := range g.Members {
			allowed[m] = true
		}
	}
	got := 0
	for c, n := range tally {
		v.Tally[c] = n
		got += n
		if n > 0 && !allowed[c] {
			v.Unexpected = append(v.Unexpected, c)
		}
	}
	slices.Sort(v.Unexpected)
	var missing []string
	for _, g := range p.Groups {
		gt := GroupTally{Name: g.Name}
		for _, m := range g.Members {
			if n := tally[m]; n > 0 {
				gt.Calls += n
				gt.ReachedVia = append(gt.ReachedVia, m)
			}
		}
		v.Groups = append(v.Groups, gt)
		if g.Required() && gt.Calls == 0 {
			missing = append(missing, g.String())
			v.Missing = append(v.Missing, g.Members...)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s received none of %d calls from %s (%s); a healthy mesh fails this with probability <= %.1e",
			strings.Join(missing, ", "), got, source, v.describe(), p.FalseAlarmBound))
	}
	if len(v.Unexpected) > 0 {
		var whys []string
		for _, c := range v.Unexpected {
			whys = append(whys, fmt.Sprintf("%s=%d: %s", c, tally[c], p.whyNot(c)))
		}
		problems = append(problems, fmt.Sprintf("calls from %s reached clusters they must not (%s)", source, strings.Join(whys, "; ")))
	}
	switch {
	case got+failed < p.Requests:
		v.Reason = fmt.Sprintf("only %d of the %d planned calls were made", got+failed, p.Requests)
	case failed > 0:
		v.Reason = fmt.Sprintf("%d of %d calls failed", failed, got+failed)
	case len(problems) > 0:
		v.Reason = strings.Join(problems, "; also ")
	default:
		v.Pass = true
		what := "every cluster"
		if !p.singletons() {
			what = "every cluster of " + cmp.Or(p.sourceNetwork(), "the caller's network") + " and every other network"
		}
		v.Reason = fmt.Sprintf("%s answered: %s", what, v.describe())
	}
	return v
}

// whyNot says why an answer from cluster c is unexpected.
func (p Plan) whyNot(c string) string {
	if why, ok := p.Unreachable[c]; ok {
		return why
	}
	if len(p.Mesh) > 0 && !slices.Contains(p.Mesh, c) {
		return "not a cluster of this mesh"
	}
	return "not a cluster the calls may reach"
}

// singletons says whether every group is one cluster: the verdict then reads as per-cluster tallies.
func (p Plan) singletons() bool {
	for _, g := range p.Groups {
		if len(g.Members) != 1 {
			return false
		}
	}
	return true
}

// sourceNetwork is the network of the plan's directly called clusters.
func (p Plan) sourceNetwork() string {
	for _, g := range p.Groups {
		if g.Kind == GroupCluster {
			return g.Network
		}
	}
	return ""
}

// describe renders the tally by group, e.g. "cluster1=10 cluster2=11", or, where a group has several clusters,
// "cluster3=12; network1 (cluster1, cluster2): reached via cluster1 (cluster1=25 cluster2=0)"; then any cluster
// outside the groups.
func (v Verdict) describe() string {
	if v.Plan.singletons() {
		var clusters []string
		for _, g := range v.Plan.Groups {
			if g.Required() || v.Tally[g.Members[0]] > 0 {
				clusters = append(clusters, g.Members[0])
			}
		}
		return FormatTally(v.Tally, clusters)
	}
	var parts []string
	seen := map[string]bool{}
	for i, g := range v.Plan.Groups {
		for _, m := range g.Members {
			seen[m] = true
		}
		gt := v.Groups[i]
		if !g.Required() && gt.Calls == 0 {
			continue
		}
		var counts []string
		for _, m := range g.Members {
			counts = append(counts, fmt.Sprintf("%s=%d", m, v.Tally[m]))
		}
		tally := strings.Join(counts, " ")
		switch {
		case len(g.Members) == 1:
			parts = append(parts, tally)
		case gt.Calls == 0:
			parts = append(parts, fmt.Sprintf("%s: not reached (%s)", g, tally))
		default:
			parts = append(parts, fmt.Sprintf("%s: reached via %s (%s)", g, strings.Join(gt.ReachedVia, ", "), tally))
		}
	}
	var rest []string
	for c, n := range v.Tally {
		if !seen[c] && n > 0 {
			rest = append(rest, fmt.Sprintf("%s=%d", c, n))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), "; ")
}

// Err is nil for a passing verdict, else the reason.
func (v Verdict) Err() error {
	if v.Pass {
		return nil
	}
	return errors.New(v.Reason)
}

// FormatTally renders a tally as "cluster1=10 cluster2=11", listing clusters (even with 0) first, then the rest.
func FormatTally(tally map[string]int, clusters []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, c := range clusters {
		parts = append(parts, fmt.Sprintf("%s=%d", c, tally[c]))
		seen[c] = true
	}
	var rest []string
	for c := range tally {
		if !seen[c] {
			rest = append(rest, c)
		}
	}
	sort.Strings(rest)
	for _, c := range rest {
		parts = append(parts, fmt.Sprintf("%s=%d", c, tally[c]))
	}
	return strings.Join(parts, " ")
}
