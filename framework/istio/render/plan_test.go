package render

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
)

// stageOf indexes a plan: step -> stage number.
func stageOf(plan [][]Step) map[Step]int {
	m := map[Step]int{}
	for i, stage := range plan {
		for _, s := range stage {
			m[s] = i
		}
	}
	return m
}

func TestPlanOrderForEveryBuiltin(t *testing.T) {
	for _, name := range builtinNames(t) {
		for _, expose := range env.IstiodExposures {
			t.Run(name+"/"+string(expose), func(t *testing.T) {
				top := mustBuiltin(t, name)
				plan := Plan(top, PlanOptions{ExposeIstiod: expose})
				at := stageOf(plan)
				n := 0
				for _, st := range plan {
					n += len(st)
				}
				if n != len(at) {
					t.Fatalf("a step appears twice: %v", plan)
				}
				before := func(a, b Step) {
					t.Helper()
					ia, oka := at[a]
					ib, okb := at[b]
					if !oka || !okb {
						t.Errorf("missing step: %s (%v) or %s (%v)", a, oka, b, okb)
						return
					}
					if ia >= ib {
						t.Errorf("%s (stage %d) must come before %s (stage %d)", a, ia, b, ib)
					}
				}
				has := func(s Step, want bool) {
					t.Helper()
					if _, ok := at[s]; ok != want {
						t.Errorf("step %s present = %v, want %v", s, ok, want)
					}
				}
				for _, c := range top.Spec.Clusters {
					ns := Step{Kind: StepNamespace, Cluster: c.Name}
					gw := Step{Kind: StepEastWestGateway, Cluster: c.Name}
					pods := Step{Kind: StepGatewayPods, Cluster: c.Name}
					wantGW := top.MultiNetwork() || (c.IsPrimary() && expose == env.ExposeGateway && len(top.RemotesOf(c.Name)) > 0)
					has(gw, wantGW)
					has(pods, wantGW)
					if wantGW {
						before(gw, pods)
					}
					if c.IsPrimary() {
						cacerts := Step{Kind: StepCACerts, Cluster: c.Name}
						cp := Step{Kind: StepControlPlane, Cluster: c.Name}
						sync := Step{Kind: StepSync, Cluster: c.Name}
						before(ns, cacerts)
						before(cacerts, cp)
						if wantGW {
							before(cp, gw)
						}
						remotes := top.RemotesOf(c.Name)
						expo := Step{Kind: StepExposeIstiod, Cluster: c.Name}
						has(expo, len(remotes) > 0)
						if len(remotes) > 0 {
							before(cp, expo)
							if expose == env.ExposeGateway {
								before(gw, expo)
							}
						}
						has(Step{Kind: StepRemote, Cluster: c.Name}, false)
						for _, peer := range top.Spec.Clusters {
							sec := Step{Kind: StepRemoteSecret, Cluster: c.Name, Peer: peer.Name}
							if peer.Name == c.Name {
								has(sec, false)
								continue
							}
							before(cp, sec)
							before(Step{Kind: StepNamespace, Cluster: peer.Name}, sec)
							if peer.IsRemote() {
								before(Step{Kind: StepRemote, Cluster: peer.Name}, sec)
							} else {
								before(Step{Kind: StepControlPlane, Cluster: peer.Name}, sec)
							}
							before(sec, sync)
						}
						continue
					}
					// A remote.
					remote := Step{Kind: StepRemote, Cluster: c.Name}
					webhook := Step{Kind: StepRemoteWebhook, Cluster: c.Name}
					has(Step{Kind: StepCACerts, Cluster: c.Name}, false)
					has(Step{Kind: StepControlPlane, Cluster: c.Name}, false)
					has(Step{Kind: StepSync, Cluster: c.Name}, false)
					before(ns, remote)
					before(Step{Kind: StepExposeIstiod, Cluster: c.Primary}, remote)
					before(Step{Kind: StepRemoteSecret, Cluster: c.Primary, Peer: c.Name}, webhook)
					if wantGW {
						before(webhook, gw)
					}
				}
			})
		}
	}
}

func TestPlanPrimaryRemoteMultiNetwork(t *testing.T) {
	plan := Plan(mustBuiltin(t, "primary-remote-multi-network"), PlanOptions{ExposeIstiod: env.ExposeLoadBalancer})
	var got [][]string
	for _, st := range plan {
		var names []string
		for _, s := range st {
			names = append(names, s.String())
		}
		got = append(got, names)
	}
	want := [][]string{
		{"namespace cluster1", "namespace cluster2"},
		{"cacerts cluster1"},
		{"control-plane cluster1"},
		{"east-west-gateway cluster1"},
		{"expose-istiod cluster1"},
		{"remote cluster2"},
		{"remote-secret cluster1->cluster2"},
		{"remote-webhook cluster2"},
		{"east-west-gateway cluster2"},
		{"gateway-pods cluster1", "gateway-pods cluster2", "sync cluster1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %v\nwant %v", got, want)
	}
}

func TestPlanMultiPrimaryHasNoGatewayOrExposure(t *testing.T) {
	plan := Plan(mustBuiltin(t, "multi-primary"), PlanOptions{ExposeIstiod: env.ExposeLoadBalancer})
	want := "[[namespace cluster1 namespace cluster2] [cacerts cluster1 cacerts cluster2] " +
		"[control-plane cluster1 control-plane cluster2] [remote-secret cluster1->cluster2 remote-secret cluster2->cluster1] " +
		"[sync cluster1 sync cluster2]]"
	if got := fmt.Sprint(plan); got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
}

func TestPlanPreinstalledOnlyVerifies(t *testing.T) {
	plan := Plan(mustBuiltin(t, "mix-3-cluster"), PlanOptions{ExposeIstiod: env.ExposeLoadBalancer, Preinstalled: true})
	for _, st := range plan {
		for _, s := range st {
			switch s.Kind {
			case StepVerify, StepGatewayPods, StepSync, StepRemoteWebhook:
			default:
				t.Errorf("preinstalled plan writes: %s", s)
			}
		}
	}
	if len(plan) != 2 || len(plan[0]) != 3 {
		t.Errorf("plan = %v", plan)
	}
}
