package istiod

import (
	"reflect"
	"strings"
	"testing"
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
