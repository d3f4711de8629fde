package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/meshconform/meshconform/framework/text"
)

// Exec runs cmd in a container of a pod and returns what it wrote. It speaks the websocket exec protocol and falls
// back to SPDY where the API server (or a proxy) does not upgrade to websockets, as kubectl does. A command that
// exits non-zero returns its output and an error that carries the exit code (see ExitCode).
func (c *Client) Exec(ctx context.Context, ns, pod, container string, cmd []string) (stdout, stderr string, err error) {
	req := c.Clientset.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   cmd,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	where := fmt.Sprintf("%s: exec %q in %s/%s", c.Name, cmd, ns, pod)
	if container != "" {
		where += " container " + container
	}
	ws, err := remotecommand.NewWebSocketExecutor(c.Config, "GET", req.URL().String())
	if err != nil {
		return "", "", fmt.Errorf("%s: websocket executor: %w", where, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.Config, "POST", req.URL())
	if err != nil {
		return "", "", fmt.Errorf("%s: SPDY executor: %w", where, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", where, err)
	}
	var out, errOut bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	if err != nil {
		if msg := text.Tail(errOut.String(), 2000); msg != "" {
			err = fmt.Errorf("%s: %w (stderr: %s)", where, err, msg)
		} else {
			err = fmt.Errorf("%s: %w", where, err)
		}
	}
	return out.String(), errOut.String(), err
}

// ExitCode is the exit code of a command Exec ran, if err says it exited non-zero.
func ExitCode(err error) (int, bool) {
	var ee utilexec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), true
	}
	return 0, false
}
