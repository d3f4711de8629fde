package istio

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/topology"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// syncRun is a run over fake clusters whose istiod answers clusterz from fetch.
func syncRun(t *testing.T, fetch clusterzFetcher) (*run, *kube.Client) {
	t.Helper()
	top, err := topology.Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-abc", Namespace: render.Namespace, Labels: map[string]string{"app": "istiod"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	c1 := fakeCluster("cluster1", pod)
	st := top.NewState(t.TempDir(), "test")
	st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{}}
	r := &run{st: st, t: top, opts: Options{Out: io.Discard, Timeouts: DefaultTimeouts}, claim: env.Claimant{Env: st.Name},
		start: time.Now(), fetch: fetch,
		clients: map[string]*kube.Client{"cluster1": c1}, envs: map[string]*env.Cluster{}, tokens: map[string][]byte{},
		steps: steps.New("istio", io.Discard)}
	for _, c := range top.Spec.Clusters {
		r.envs[c.Name] = &env.Cluster{Name: c.Name}
	}
	return r, c1
}

func TestSyncWaitsUntilIstiodReportsEveryCluster(t *testing.T) {
	var calls atomic.Int32
	r, _ := syncRun(t, func(ctx context.Context, c *kube.Client, pod string) ([]byte, error) {
		if pod != "istiod-abc" {
			t.Errorf("asked pod %s", pod)
		}
		switch calls.Add(1) {
		case 1:
			return nil, errors.New("port-forward: connection refused")
		case 2:
			return []byte(`[{"id":"cluster1","syncStatus":"synced"},{"id":"cluster2","syncStatus":"syncing"}]`), nil
		}
		return []byte(`[{"id":"cluster1","syncStatus":"synced"},{"id":"cluster2","syncStatus":"synced"},{"id":"cluster3","syncStatus":"synced"}]`), nil
	})
	if err := r.sync(context.Background(), "cluster1"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 3 {
		t.Errorf("returned after %d answers, before everything was synced", calls.Load())
	}
}

func TestSyncTimeoutNamesTheClusterAndCause(t *testing.T) {
	r, _ := syncRun(t, func(context.Context, *kube.Client, string) ([]byte, error) {
		return []byte(`[{"id":"cluster1","syncStatus":"synced"},{"id":"cluster2","secretName":"istio-system/istio-remote-secret-cluster2","syncStatus":"timeout"}]`), nil
	})
	r.opts.Timeouts.RemoteSync = 2500 * time.Millisecond
	err := r.sync(context.Background(), "cluster1")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"cluster2", `"timeout"`, "reachable", "token", "cluster3", "lists no cluster cluster3",
		"istio-remote-secret-cluster3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
}

// A preinstalled mesh may know its clusters by other IDs than the topology's names: sync compares by those IDs (and
// its diagnosis looks the cluster up by topology name; an ID would find no cluster).
func TestSyncComparesIstioClusterIDs(t *testing.T) {
	r, _ := syncRun(t, func(context.Context, *kube.Client, string) ([]byte, error) {
		return []byte(`[{"id":"east","syncStatus":"synced"},{"id":"west","syncStatus":"synced"},{"id":"south","syncStatus":"timeout"}]`), nil
	})
	r.st.Mesh.Clusters["cluster1"] = env.MeshCluster{IstioClusterID: "east"}
	r.st.Mesh.Clusters["cluster2"] = env.MeshCluster{IstioClusterID: "west"}
	r.st.Mesh.Clusters["cluster3"] = env.MeshCluster{IstioClusterID: "south"}
	r.opts.Timeouts.RemoteSync = 2500 * time.Millisecond
	err := r.sync(context.Background(), "cluster1")
	if err == nil {
		t.Fatal("south times out: want an error")
	}
	for _, want := range []string{`south: istiod in cluster1 reports "timeout"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "not listed") || strings.Contains(err.Error(), "lists no cluster") {
		t.Errorf("clusters listed under their Istio IDs reported missing:\n%s", err)
	}
	r.st.Mesh.Clusters["cluster3"] = env.MeshCluster{IstioClusterID: "north"}
	err = r.sync(context.Background(), "cluster1")
	if err == nil || !strings.Contains(err.Error(), "lists no cluster north") {
		t.Errorf("cluster3 known as north is not listed: want that named, got %v", err)
	}
}
