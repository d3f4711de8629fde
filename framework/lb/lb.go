// Package lb judges cross-cluster load balancing from call tallies.
//
// The question is "does traffic from this cluster reach every cluster that runs the service, or does it stay
// local?". The verdict is a hypothesis test whose false-alarm rate (declaring a healthy mesh broken) is stated and
// bounded, using the fewest calls that reach the bound:
//
//   - Healthy model: each call lands in cluster c with probability at least p_c, c's share of the service's
//     endpoints. Random picks meet it exactly; round robin and least-request spread calls more evenly still, so
//     the bound below holds for them too.
//   - Test: the verdict fails when some cluster that runs the service receives none of n calls.
//   - False alarm: under the healthy model, P(some cluster gets 0 of n) <= sum_c (1-p_c)^n. Plan picks the smallest
//     n that brings this under the requested rate (<= 1e-6): 21 calls for two equal clusters, 37 for three.
//   - Miss: traffic that stays local never reaches another cluster, so it always fails the test.
//
// Assumptions, and how the suites meet them: the judged client sends no other traffic meanwhile (least-request would
// steer away from busy endpoints); gRPC's round robin counts connections, not endpoint weights, so a cluster behind
// a gateway counts once per gateway address (the suites give each cluster one echo pod, so shares are equal either
// way); failed calls fail the verdict outright and are not covered by the rate; a spec judging S sources plans each
// with alpha/S, so the spec's rate stays within alpha.
//
// The model also assumes the client already knows every endpoint: a fresh gRPC channel sends its first calls to the
// first endpoint that became ready (12/0 splits are measured). The client therefore warms up until it has reached
// every cluster, and only the calls after that are judged.
package lb

import (
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
	// Shares maps each cluster that runs the service to its share of the endpoints (they sum to 1).
	Shares map[string]float64 `json:"shares"`
	// Requests is the number of judged calls.
	Requests int `json:"requests"`
	// FalseAlarmBound is the bound sum_c (1-p_c)^n for Requests: the chance a healthy mesh fails the test.
	FalseAlarmBound float64 `json:"falseAlarmBound"`
	// FalseAlarmTarget is the rate the plan was asked to stay under.
	FalseAlarmTarget float64 `json:"falseAlarmTarget"`
}

// NewPlan computes the fewest calls that keep the false-alarm rate under alpha for a service with endpoints[c]
// ready endpoints in cluster c. Clusters with no endpoints are left out: they do not run the service.
func NewPlan(endpoints map[string]int, alpha float64) (Plan, error) {
	if alpha <= 0 || alpha > MaxFalseAlarm {
		return Plan{}, fmt.Errorf("false-alarm rate %g: must be in (0, %g]", alpha, MaxFalseAlarm)
	}
	total := 0
	for c, n := range endpoints {
		if n < 0 {
			return Plan{}, fmt.Errorf("cluster %s: negative endpoint count %d", c, n)
		}
		total += n
	}
	shares := map[string]float64{}
	for c, n := range endpoints {
		if n > 0 {
			shares[c] = float64(n) / float64(total)
		}
	}
	if len(shares) < 2 {
		return Plan{}, fmt.Errorf("load balancing needs the service in at least two clusters, have %v", endpoints)
	}
	n := 1
	for ; n <= MaxRequests; n++ {
		if bound(shares, n) <= alpha {
			break
		}
	}
	if n > MaxRequests {
		return Plan{}, fmt.Errorf("shares %v need more than %d calls for a false-alarm rate of %g", shares, MaxRequests, alpha)
	}
	return Plan{Shares: shares, Requests: n, FalseAlarmBound: bound(shares, n), FalseAlarmTarget: alpha}, nil
}

// bound is sum_c (1-p_c)^n: by the union bound, the chance that some cluster gets none of n healthy calls.
func bound(shares map[string]float64, n int) float64 {
	s := 0.0
	for _, p := range shares {
		s += math.Pow(1-p, float64(n))
	}
	return s
}

// Clusters are the plan's destination clusters, sorted.
func (p Plan) Clusters() []string {
	cs := make([]string, 0, len(p.Shares))
	for c := range p.Shares {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

// Verdict is the judgement of one source's calls, kept whole for the report.
type Verdict struct {
	Source string `json:"source"`
	Plan   Plan   `json:"plan"`
	// Tally counts judged calls by the cluster that answered.
	Tally map[string]int `json:"tally"`
	// Failed counts judged calls that got no answer.
	Failed int `json:"failed"`
	// WarmupCalls is how many calls the client made before it had reached every cluster (not judged).
	WarmupCalls int `json:"warmupCalls"`
	// Missing are the clusters that got none of the judged calls.
	Missing []string `json:"missing,omitempty"`
	// Unexpected are answering clusters the plan did not list (the service's endpoints changed under the test).
	Unexpected []string `json:"unexpected,omitempty"`
	Pass       bool     `json:"pass"`
	Reason     string   `json:"reason"`
}

// Judge applies the test to the judged calls of one source.
func Judge(p Plan, source string, tally map[string]int, failed, warmup int) Verdict {
	v := Verdict{Source: source, Plan: p, Tally: map[string]int{}, Failed: failed, WarmupCalls: warmup}
	got := 0
	for c, n := range tally {
		v.Tally[c] = n
		got += n
		if _, ok := p.Shares[c]; !ok && n > 0 {
			v.Unexpected = append(v.Unexpected, c)
		}
	}
	for _, c := range p.Clusters() {
		if tally[c] == 0 {
			v.Missing = append(v.Missing, c)
		}
	}
	slices.Sort(v.Unexpected)
	switch {
	case got+failed < p.Requests:
		v.Reason = fmt.Sprintf("only %d of the %d planned calls were made", got+failed, p.Requests)
	case failed > 0:
		v.Reason = fmt.Sprintf("%d of %d calls failed", failed, got+failed)
	case len(v.Missing) > 0:
		v.Reason = fmt.Sprintf("%s received none of %d calls from %s (%s); a healthy mesh fails this with probability <= %.1e",
			strings.Join(v.Missing, ", "), got, source, FormatTally(v.Tally, p.Clusters()), p.FalseAlarmBound)
	default:
		v.Pass = true
		v.Reason = fmt.Sprintf("every cluster answered: %s", FormatTally(v.Tally, p.Clusters()))
	}
	return v
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
