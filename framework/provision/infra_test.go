package provision

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/topology"
)

// infra returns an Infra of a two-cluster environment whose MetalLB "install" is fn.
func infra(t *testing.T, ctx context.Context, fn func(context.Context, env.Cluster) error) *Infra {
	t.Helper()
	top, err := topology.Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	st := top.NewState(t.TempDir(), "infra")
	top.RecordClusters(st)
	p := &run{t: top, st: st, steps: steps.New("up", nil, steps.WithSave(st.Save))}
	inf := &Infra{State: st, p: p}
	inf.startMetalLB(ctx, fn)
	return inf
}

// The mesh's steps wait only for the cluster they need: cluster1's LoadBalancers return while cluster2's MetalLB
// is still starting, and Wait returns once both are done, with the phase recorded.
func TestLoadBalancersPerCluster(t *testing.T) {
	release := make(chan struct{})
	inf := infra(t, context.Background(), func(ctx context.Context, c env.Cluster) error {
		if c.Name == "cluster2" {
			<-release
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := inf.LoadBalancers(ctx, "cluster1"); err != nil {
		t.Fatalf("cluster1: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := inf.LoadBalancers(short, "cluster2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cluster2 before its MetalLB is ready: %v, want the wait to be still running", err)
	}
	if err := inf.LoadBalancers(ctx, "not-provisioned"); err != nil {
		t.Fatalf("a cluster without MetalLB work must not wait: %v", err)
	}
	close(release)
	if err := inf.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(inf.State.Phases) != 1 || inf.State.Phases[0].Name != "metallb" {
		t.Errorf("phases %+v, want the metallb phase recorded by Wait", inf.State.Phases)
	}
}

// A MetalLB failure reaches the step that waits for that cluster as ErrMetalLB, naming the cluster and the cause;
// the other cluster is unaffected, and Wait reports it.
func TestLoadBalancersFailure(t *testing.T) {
	inf := infra(t, context.Background(), func(ctx context.Context, c env.Cluster) error {
		if c.Name == "cluster2" {
			return errors.New("speaker not ready after 4m0s")
		}
		return nil
	})
	ctx := context.Background()
	err := inf.LoadBalancers(ctx, "cluster2")
	if !errors.Is(err, ErrMetalLB) || !strings.Contains(err.Error(), "metallb cluster2: speaker not ready after 4m0s") {
		t.Fatalf("cluster2: %v", err)
	}
	if err := inf.LoadBalancers(ctx, "cluster1"); err != nil {
		t.Fatalf("cluster1: %v", err)
	}
	if err := inf.Wait(); err == nil || !strings.Contains(err.Error(), "metallb: cluster2: speaker not ready") {
		t.Fatalf("Wait: %v", err)
	}
	if len(inf.State.Phases) != 0 {
		t.Errorf("a failed MetalLB phase must not be recorded as done: %+v", inf.State.Phases)
	}
}

// Stop ends MetalLB's work when what ran next failed: the installs see their context cancelled and Stop returns
// only after they have.
func TestStop(t *testing.T) {
	var ended atomic.Int32
	inf := infra(t, context.Background(), func(ctx context.Context, c env.Cluster) error {
		<-ctx.Done()
		ended.Add(1)
		return ctx.Err()
	})
	inf.Stop()
	if ended.Load() != 2 {
		t.Fatalf("%d of 2 installs ended when Stop returned", ended.Load())
	}
}
