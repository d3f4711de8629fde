package istio

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/topology"
)

// What istiod 1.31 serves on /debug/clusterz for a primary with two remote secrets.
const clusterzSample = `[
  {"id": "cluster1", "secretName": "", "syncStatus": "synced"},
  {"id": "cluster2", "secretName": "istio-system/istio-remote-secret-cluster2", "syncStatus": "synced"},
  {"id": "cluster3", "secretName": "istio-system/istio-remote-secret-cluster3", "syncStatus": "timeout"}
]`

func TestParseClusterz(t *testing.T) {
	got, err := ParseClusterz([]byte(clusterzSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []ClusterStatus{
		{ID: "cluster1", SyncStatus: "synced"},
		{ID: "cluster2", SecretName: "istio-system/istio-remote-secret-cluster2", SyncStatus: "synced"},
		{ID: "cluster3", SecretName: "istio-system/istio-remote-secret-cluster3", SyncStatus: "timeout"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseClusterz([]byte("Unauthorized")); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("a non-JSON answer: err = %v, want it quoted", err)
	}
}

func TestSyncProblems(t *testing.T) {
	all := []string{"cluster1", "cluster2", "cluster3"}
	st := func(id, status string) ClusterStatus { return ClusterStatus{ID: id, SyncStatus: status} }
	cases := []struct {
		name     string
		statuses []ClusterStatus
		want     []SyncProblem
	}{
		{"all synced", []ClusterStatus{st("cluster1", "synced"), st("cluster2", "synced"), st("cluster3", "synced")}, nil},
		{"extra stale secret ignored", []ClusterStatus{st("cluster1", "synced"), st("cluster2", "synced"), st("cluster3", "synced"),
			st("old", "timeout")}, nil},
		{"timeout and syncing", []ClusterStatus{st("cluster1", "synced"), st("cluster2", "timeout"), st("cluster3", "syncing")},
			[]SyncProblem{{Cluster: "cluster2", Status: "timeout"}, {Cluster: "cluster3", Status: "syncing"}}},
		{"missing secret", []ClusterStatus{st("cluster1", "synced"), st("cluster3", "synced")},
			[]SyncProblem{{Cluster: "cluster2"}}},
		{"own cluster still syncing", []ClusterStatus{st("cluster1", "syncing"), st("cluster2", "synced"), st("cluster3", "synced")},
			[]SyncProblem{{Cluster: "cluster1", Status: "syncing"}}},
		{"listed twice, one closed", []ClusterStatus{st("cluster1", "synced"), st("cluster2", "closed"), st("cluster2", "synced"),
			st("cluster3", "synced")}, []SyncProblem{{Cluster: "cluster2", Status: "closed"}}},
		{"nothing", nil, []SyncProblem{{Cluster: "cluster1"}, {Cluster: "cluster2"}, {Cluster: "cluster3"}}},
	}
	for _, c := range cases {
		got := SyncProblems(c.statuses, all)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if AllSynced(c.statuses, all) != (len(c.want) == 0) {
			t.Errorf("%s: AllSynced disagrees with SyncProblems", c.name)
		}
	}
	if s := (SyncProblem{Cluster: "cluster2"}).String(); !strings.Contains(s, "not listed") {
		t.Errorf("missing cluster reads %q", s)
	}
}

func TestLastErrorLine(t *testing.T) {
	log := strings.Join([]string{
		`2026-01-01T00:00:01Z info  cluster cluster2 added`,
		`2026-01-01T00:00:02Z error kube  failed to list services in cluster2: dial tcp 172.18.0.3:6443: i/o timeout`,
		`2026-01-01T00:00:03Z info  cluster cluster3 synced`,
		`2026-01-01T00:00:04Z warn  cluster3 failed: Unauthorized`,
	}, "\n")
	if got := lastErrorLine(log, "cluster2"); !strings.Contains(got, "i/o timeout") {
		t.Errorf("cluster2: %q", got)
	}
	if got := lastErrorLine(log, "cluster3"); !strings.Contains(got, "Unauthorized") {
		t.Errorf("cluster3: %q", got)
	}
	if got := lastErrorLine(log, "cluster9"); got != "" {
		t.Errorf("cluster9: %q", got)
	}
}

// syncRun is a run over fake clusters whose istiod answers clusterz from fetch.
func syncRun(t *testing.T, fetch clusterzFetcher) (*run, *kube.Client) {
	t.Helper()
	top, err := topology.Builtin("mix-3-cluster")
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-abc", Namespace: Namespace, Labels: map[string]string{"app": "istiod"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	c1 := fakeCluster("cluster1", pod)
	st := top.NewState(t.TempDir())
	st.Mesh = &env.Mesh{Clusters: map[string]env.MeshCluster{}}
	r := &run{st: st, t: top, opts: Options{Out: io.Discard, Timeouts: DefaultTimeouts}, start: time.Now(), fetch: fetch,
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

func TestParseEDSCollectsEndpointsPerCluster(t *testing.T) {
	dump := `{"configs":[
	 {"@type":"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment","clusterName":"outbound|8080||echo.echo.svc.cluster.local",
	  "endpoints":[{"locality":{},"lbEndpoints":[
	    {"endpoint":{"address":{"socketAddress":{"address":"10.10.0.7","portValue":8080}}}},
	    {"endpoint":{"address":{"socketAddress":{"address":"172.30.2.144","portValue":15443}}}}]}]},
	 {"clusterName":"outbound|53||kube-dns.kube-system.svc.cluster.local","endpoints":[]}]}`
	got, err := ParseEDS([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	eps := got["outbound|8080||echo.echo.svc.cluster.local"]
	if len(eps) != 2 || eps[0] != "10.10.0.7:8080" || eps[1] != "172.30.2.144:15443" {
		t.Fatalf("endpoints %v", got)
	}
	if _, err := ParseEDS([]byte("not json")); err == nil {
		t.Fatal("garbage parsed")
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
