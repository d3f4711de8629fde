package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// execServer answers pod exec requests the way the kubelet does over websockets: stdout on channel 1, stderr on 2,
// and a metav1.Status on channel 3 that carries the exit code.
func execServer(t *testing.T, run func(container string, cmd []string) (stdout, stderr string, exit int)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/echo/pods/client-1/exec" || !wsstream.IsWebSocketRequest(r) {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		if q.Get("stdout") != "true" || q.Get("stderr") != "true" || q.Get("stdin") == "true" {
			http.Error(w, "unexpected streams "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		channels := []wsstream.ChannelType{wsstream.IgnoreChannel, wsstream.WriteChannel, wsstream.WriteChannel,
			wsstream.WriteChannel, wsstream.IgnoreChannel}
		protocols := wsstream.NewDefaultChannelProtocols(channels)
		for _, p := range []string{"v4.channel.k8s.io", "v5.channel.k8s.io"} {
			protocols[p] = wsstream.ChannelProtocolConfig{Binary: true, Channels: channels}
		}
		conn := wsstream.NewConn(protocols)
		_, streams, err := conn.Open(w, r)
		if err != nil {
			t.Errorf("open websocket: %v", err)
			return
		}
		defer conn.Close()
		stdout, stderr, exit := run(q.Get("container"), q["command"])
		streams[1].Write([]byte(stdout))
		streams[2].Write([]byte(stderr))
		status := metav1.Status{Status: metav1.StatusSuccess}
		if exit != 0 {
			status = metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exit)}}}}
		}
		b, _ := json.Marshal(status)
		streams[3].Write(b)
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Name: "cluster1", Config: cfg, Clientset: cs}
}

func TestExec(t *testing.T) {
	const out = `{"target":"localhost:8080","sent":3,"ok":3}`
	var gotContainer string
	var gotCmd []string
	c := execServer(t, func(container string, cmd []string) (string, string, int) {
		gotContainer, gotCmd = container, cmd
		if cmd[len(cmd)-1] == "--fail" {
			return "", "workload client: bad flag\n", 2
		}
		return out + "\n", "2026/11/22 03:47:29 channel READY\n", 0
	})
	ctx := context.Background()
	cmd := []string{"/workload", "client", "--target", "localhost:8080", "--count", "3", "--json"}
	stdout, stderr, err := c.Exec(ctx, "echo", "client-1", "client", cmd)
	if err != nil {
		t.Fatal(err)
	}
	if gotContainer != "client" || !slices.Equal(gotCmd, cmd) {
		t.Errorf("server saw container %q command %q", gotContainer, gotCmd)
	}
	if stdout != out+"\n" || !strings.Contains(stderr, "channel READY") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}

	_, stderr, err = c.Exec(ctx, "echo", "client-1", "client", []string{"/workload", "--fail"})
	if err == nil {
		t.Fatal("non-zero exit not reported")
	}
	if code, ok := ExitCode(err); !ok || code != 2 {
		t.Errorf("exit code %d %v from %v", code, ok, err)
	}
	if !strings.Contains(err.Error(), "bad flag") || !strings.Contains(stderr, "bad flag") {
		t.Errorf("stderr missing from error %v / %q", err, stderr)
	}

	if _, _, err := c.Exec(ctx, "echo", "nope", "client", []string{"true"}); err == nil {
		t.Error("exec into a missing pod succeeded")
	}
}
