package lb

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNewPlanUsesTheFewestCalls(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endpoints map[string]int
		want      int
	}{
		// 2 * 0.5^21 = 9.5e-7 <= 1e-6 < 2 * 0.5^20 = 1.9e-6
		{"two equal clusters", map[string]int{"cluster1": 1, "cluster2": 1}, 21},
		// 3 * (2/3)^37 = 9.2e-7 <= 1e-6 < 3 * (2/3)^36 = 1.4e-6
		{"three equal clusters", map[string]int{"a": 1, "b": 1, "c": 1}, 37},
		// The warm-up guarantees one connected pod per cluster, not two: an unweighted balancer may see a's one pod
		// against b's and c's two each, 1/5 = min(2/6, 1/(1+6-2)); 3 * 0.8^67 = 9.6e-7 < 1e-6 < 3 * 0.8^66 = 1.2e-6.
		{"three clusters of two pods each", map[string]int{"a": 2, "b": 2, "c": 2}, 67},
		// the smaller share dominates: 0.75^48 = 1.0002e-6 is just above 1e-6 (cluster2 counts min(3/4, 1/2))
		{"one pod against three", map[string]int{"cluster1": 1, "cluster2": 3}, 49},
		{"a cluster without endpoints does not count", map[string]int{"cluster1": 1, "cluster2": 1, "cluster3": 0}, 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(tc.endpoints, MaxFalseAlarm)
			if err != nil {
				t.Fatal(err)
			}
			if p.Requests != tc.want {
				t.Errorf("requests = %d, want %d", p.Requests, tc.want)
			}
			if p.FalseAlarmBound > MaxFalseAlarm {
				t.Errorf("bound %g above %g", p.FalseAlarmBound, MaxFalseAlarm)
			}
			if fewer := p.bound(p.Requests - 1); fewer <= MaxFalseAlarm {
				t.Errorf("%d calls would already do (bound %g)", p.Requests-1, fewer)
			}
		})
	}
}

func TestNewPlanRefusesWhatCannotBeJudged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endpoints map[string]int
		alpha     float64
		want      string
	}{
		{"one cluster", map[string]int{"cluster1": 2, "cluster2": 0}, 1e-6, "at least two clusters"},
		{"a rate above the maximum", map[string]int{"a": 1, "b": 1}, 1e-3, "must be in (0, 1e-06]"},
		{"a zero rate", map[string]int{"a": 1, "b": 1}, 0, "must be in"},
		{"a negative count", map[string]int{"a": 1, "b": -1}, 1e-6, "negative endpoint count"},
		{"a share too small", map[string]int{"a": 10000, "b": 1}, 1e-6, "need more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlan(tc.endpoints, tc.alpha)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// The bound is what the test's false-alarm rate really is: for two clusters the events "cluster1 got nothing" and
// "cluster2 got nothing" are disjoint, so the bound is exact and a simulation of healthy random picks must match it.
func TestBoundMatchesSimulatedHealthyMesh(t *testing.T) {
	shares := []float64{0.5, 0.5}
	const n, trials = 5, 200000
	rng := rand.New(rand.NewPCG(1, 2))
	alarms := 0
	for range trials {
		hits := 0
		for range n {
			if rng.Float64() < 0.5 {
				hits++
			}
		}
		if hits == 0 || hits == n {
			alarms++
		}
	}
	got, want := float64(alarms)/trials, bound(shares, n)
	sigma := math.Sqrt(want * (1 - want) / trials)
	if math.Abs(got-want) > 5*sigma {
		t.Fatalf("simulated false-alarm rate %.5f, bound %.5f (5 sigma = %.5f)", got, want, 5*sigma)
	}
}

func TestJudge(t *testing.T) {
	p, err := NewPlan(map[string]int{"cluster1": 1, "cluster2": 1}, MaxFalseAlarm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		tally   map[string]int
		failed  int
		pass    bool
		reason  string
		missing []string
	}{
		{"balanced", map[string]int{"cluster1": 10, "cluster2": 11}, 0, true, "cluster1=10 cluster2=11", nil},
		{"skewed but reaching both", map[string]int{"cluster1": 20, "cluster2": 1}, 0, true, "every cluster answered", nil},
		{"stays local", map[string]int{"cluster1": 21}, 0, false, "cluster2 received none of 21 calls from cluster1 (cluster1=21 cluster2=0)", []string{"cluster2"}},
		{"failed calls", map[string]int{"cluster1": 10, "cluster2": 10}, 1, false, "1 of 21 calls failed", nil},
		{"too few calls", map[string]int{"cluster1": 5, "cluster2": 5}, 0, false, "only 10 of the 21 planned calls", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(p, "cluster1", tc.tally, tc.failed, 3)
			if v.Pass != tc.pass || !strings.Contains(v.Reason, tc.reason) {
				t.Fatalf("verdict pass=%v reason=%q, want pass=%v reason containing %q", v.Pass, v.Reason, tc.pass, tc.reason)
			}
			if (v.Err() == nil) != tc.pass {
				t.Errorf("Err() = %v with pass=%v", v.Err(), v.Pass)
			}
			if strings.Join(v.Missing, ",") != strings.Join(tc.missing, ",") {
				t.Errorf("missing = %v, want %v", v.Missing, tc.missing)
			}
			if v.WarmupCalls != 3 || v.Source != "cluster1" {
				t.Errorf("verdict lost its context: %+v", v)
			}
		})
	}
}

func TestJudgeFailsOnClustersOutsideThePlan(t *testing.T) {
	p, _ := NewPlan(map[string]int{"cluster1": 1, "cluster2": 1}, MaxFalseAlarm)
	v := Judge(p, "cluster1", map[string]int{"cluster1": 10, "cluster2": 10, "cluster9": 1}, 0, 0)
	want := "calls from cluster1 reached clusters they must not (cluster9=1: not a cluster the calls may reach)"
	if v.Pass || len(v.Unexpected) != 1 || v.Unexpected[0] != "cluster9" || v.Reason != want {
		t.Fatalf("verdict %+v: want a failure naming cluster9 as unexpected: %q", v, want)
	}
	// A cluster that had no endpoints when the plan was made is part of the mesh: its answers are allowed.
	p, _ = NewPlan(map[string]int{"cluster1": 1, "cluster2": 1, "cluster3": 0}, MaxFalseAlarm)
	if v := Judge(p, "cluster1", map[string]int{"cluster1": 10, "cluster2": 10, "cluster3": 1}, 0, 0); !v.Pass {
		t.Fatalf("an answer from a planned cluster without endpoints failed the verdict: %s", v.Reason)
	}
}
