package workload

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// Lines printed by `go run ./fixtures/workload client --target ... --json` against a local server (the first) and
// against a closed port (the second).
const (
	sampleOK     = `{"target":"localhost:18080","sent":3,"ok":3,"errors":{},"byCluster":{"cluster1":3},"byVersion":{"v1":3},"byPod":{"echo-v1-abc":3},"peers":{},"serverPeers":{},"firstError":""}`
	sampleFailed = `{"target":"localhost:18081","sent":2,"ok":0,"errors":{"Unavailable: connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:18081: connect: connection refused\"":2},"byCluster":{},"byVersion":{},"byPod":{},"peers":{},"serverPeers":{},"firstError":"Unavailable: connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:18081: connect: connection refused\""}`
	// An mTLS run has the same shape with identities filled in.
	sampleMTLS = `{"target":"xds:///echo.echo.svc.cluster.local:8080","sent":4,"ok":4,"errors":{},"byCluster":{"cluster1":2,"cluster2":2},"byVersion":{"v1":2,"v2":2},"byPod":{"echo-v1-a":2,"echo-v2-b":2},"peers":{"spiffe://cluster.local/ns/echo/sa/client":4},"serverPeers":{"spiffe://cluster.local/ns/echo/sa/echo":4},"firstError":""}`
)

func TestParseTally(t *testing.T) {
	got, err := ParseTally(sampleOK + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Tally{Target: "localhost:18080", Sent: 3, OK: 3, Errors: map[string]int{},
		ByCluster: map[string]int{"cluster1": 3}, ByVersion: map[string]int{"v1": 3}, ByPod: map[string]int{"echo-v1-abc": 3},
		Peers: map[string]int{}, ServerPeers: map[string]int{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tally\n got %+v\nwant %+v", got, want)
	}

	got, err = ParseTally("some noise\n" + sampleFailed + "\n\n")
	if err != nil {
		t.Fatal(err)
	}
	refused := "Unavailable: connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:18081: connect: connection refused\""
	if got.Sent != 2 || got.OK != 0 || got.Failed() != 2 || got.Errors[refused] != 2 || got.FirstError != refused {
		t.Errorf("failed tally %+v", got)
	}

	got, err = ParseTally(sampleMTLS)
	if err != nil {
		t.Fatal(err)
	}
	if got.Peers["spiffe://cluster.local/ns/echo/sa/client"] != 4 || got.ServerPeers["spiffe://cluster.local/ns/echo/sa/echo"] != 4 ||
		got.ByCluster["cluster2"] != 2 || got.ByVersion["v2"] != 2 {
		t.Errorf("mTLS tally %+v", got)
	}

	for _, bad := range []string{"", "target: x\nsent: 1 ok: 1\n", `{"sent": "three"}`} {
		if _, err := ParseTally(bad); err == nil {
			t.Errorf("ParseTally(%q) accepted", bad)
		}
	}
}

func pod(name string, labels map[string]string, phase corev1.PodPhase, ready bool, created time.Time) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "echo", Labels: labels,
			CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: labels["app"]}, {Name: ProxyContainer}}},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: status}}},
	}
}

func TestCall(t *testing.T) {
	now := time.Now()
	app := map[string]string{"app": "client"}
	c := fakeClient(
		pod("client-old", app, corev1.PodRunning, true, now.Add(-time.Hour)),
		pod("client-new", app, corev1.PodRunning, true, now),
		pod("client-pending", app, corev1.PodPending, false, now.Add(time.Minute)),
		pod("echo-v1-x", map[string]string{"app": "echo"}, corev1.PodRunning, true, now.Add(time.Hour)),
	)
	var gotPod, gotContainer string
	var gotCmd []string
	exec := func(_ context.Context, _ *kube.Client, ns, pod, container string, cmd []string) (string, string, error) {
		gotPod, gotContainer, gotCmd = pod, container, cmd
		return sampleMTLS + "\n", "2026/11/22 03:47:29 channel to ...: READY after 2ms\n", nil
	}
	target := Target(env.DataPlaneProxyless, "echo", "echo", 8080)
	tally, err := call(context.Background(), c, "echo", CallSpec{Target: target, Count: 4, XDS: true}, exec)
	if err != nil {
		t.Fatal(err)
	}
	if gotPod != "client-new" || gotContainer != "client" {
		t.Errorf("exec in %s/%s, want the newest ready client pod's client container", gotPod, gotContainer)
	}
	want := []string{"/workload", "client", "--target", "xds:///echo.echo.svc.cluster.local:8080", "--count", "4", "--json", "--xds"}
	if !slices.Equal(gotCmd, want) {
		t.Errorf("command %q, want %q", gotCmd, want)
	}
	if tally.OK != 4 || tally.ByCluster["cluster1"] != 2 {
		t.Errorf("tally %+v", tally)
	}
	if slices.Contains(ClientCommand("x", 1, false), "--xds") {
		t.Error("--xds without xds")
	}

	// A client that stopped early is reported, with the tally it had.
	if tally, err := call(context.Background(), c, "echo", CallSpec{Target: target, Count: 10, XDS: true}, exec); err == nil || tally.Sent != 4 {
		t.Errorf("short run: tally %+v err %v", tally, err)
	}
	// An exec failure passes through.
	boom := errors.New("boom")
	failing := func(context.Context, *kube.Client, string, string, string, []string) (string, string, error) {
		return "", "", boom
	}
	if _, err := call(context.Background(), c, "echo", CallSpec{Target: target, Count: 4, XDS: true}, failing); !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
}

func TestCallNoReadyClient(t *testing.T) {
	p := pod("client-1", map[string]string{"app": "client"}, corev1.PodPending, false, time.Now())
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ProxyContainer,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull"}}}}
	c := fakeClient(p)
	_, err := call(context.Background(), c, "echo", CallSpec{Target: "x", Count: 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "client-1: Pending") || !strings.Contains(err.Error(), "istio-proxy: waiting: ErrImageNeverPull") {
		t.Errorf("err = %v, want the client pod's state", err)
	}
}

func deploymentStatus(name string, available int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "echo"},
		Spec:       appsv1.DeploymentSpec{Replicas: new(int32(1))},
		Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: available,
			ReadyReplicas: available},
	}
}

func TestWaitReady(t *testing.T) {
	ctx := context.Background()
	if err := WaitReady(ctx, fakeClient(deploymentStatus("echo-v1", 1), deploymentStatus("client", 1)), "echo", 5*time.Second); err != nil {
		t.Errorf("available deployments: %v", err)
	}

	stuck := pod("echo-v1-abc", map[string]string{"app": "echo"}, corev1.PodRunning, false, time.Now())
	stuck.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "echo", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: ProxyContainer, RestartCount: 4,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: "back-off 40s restarting failed container"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 255}}},
	}
	bare := pod("client-xyz", map[string]string{"app": "client"}, corev1.PodRunning, false, time.Now())
	bare.Spec.Containers = bare.Spec.Containers[:1]
	c := fakeClient(deploymentStatus("echo-v1", 0), deploymentStatus("client", 0), stuck, bare)
	err := WaitReady(ctx, c, "echo", 1500*time.Millisecond)
	if err == nil {
		t.Fatal("WaitReady succeeded with unavailable deployments")
	}
	for _, want := range []string{
		"echo-v1 (0/1 available", "client (0/1 available",
		"echo-v1-abc: Running (istio-proxy: CrashLoopBackOff)",
		"[istio-proxy: waiting: CrashLoopBackOff (back-off 40s restarting failed container), 4 restarts (last: Error exit 255)]",
		"[echo: running, not ready]",
		"client-xyz: Running [no istio-proxy injected",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	// The caller's deadline ends the wait first: the diagnosis survives.
	short, cancel := context.WithTimeout(ctx, 1200*time.Millisecond)
	defer cancel()
	err = WaitReady(short, c, "echo", time.Minute)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "echo-v1-abc: Running") {
		t.Errorf("err = %v, want deadline exceeded with pod states", err)
	}
}

func TestCallSpecCommandAsksForTheWarmUp(t *testing.T) {
	got := strings.Join(CallSpec{Target: "xds:///echo:8080", Count: 21, XDS: true,
		WarmUpUntil: []string{"cluster3", AnyOf("cluster1", "cluster2")}, WarmUpTimeout: 45 * time.Second}.Command(), " ")
	want := "/workload client --target xds:///echo:8080 --count 21 --json --xds --warm-up-until cluster3,cluster1|cluster2 --warm-up-timeout 45s"
	if !strings.HasSuffix(got, strings.TrimPrefix(want, "/workload")) {
		t.Fatalf("command %q, want %q", got, want)
	}
}
