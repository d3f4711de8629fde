package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/meshconform/meshconform/framework/text"
)

// PortForward forwards a free local port to a pod's port, as `kubectl port-forward` does, and returns the base URL
// ("http://127.0.0.1:<port>") and the function that ends the forward. Going through the API server's pod proxy
// instead does not work for istiod: its debug endpoints answer unauthenticated requests from localhost only, and a
// proxied request arrives from the API server (401).
func (c *Client) PortForward(ctx context.Context, ns, pod string, port int) (baseURL string, stop func(), err error) {
	where := fmt.Sprintf("port-forward to %s/%s:%d", ns, pod, port)
	if c.Config == nil {
		return "", nil, fmt.Errorf("%s: the client has no REST config", where)
	}
	transport, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", where, err)
	}
	u := c.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stopCh, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", where, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	stop = func() { close(stopCh) }
	select {
	case <-ready:
	case err := <-errc:
		return "", nil, fmt.Errorf("%s: %w", where, err)
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("%s: %w", where, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("%s: no local port: %v", where, err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local), stop, nil
}

// PortForwardGet GETs path (e.g. "debug/clusterz") on a pod's port through a port forward opened for this one
// request; anything but 200 is an error carrying the start of the body. The answer is capped at 4 MiB and the
// request at 15 s, so a stuck pod cannot hang a wait that polls it.
func (c *Client) PortForwardGet(ctx context.Context, ns, pod string, port int, path string) ([]byte, error) {
	base, stop, err := c.PortForward(ctx, ns, pod, port)
	if err != nil {
		return nil, err
	}
	defer stop()
	return get(ctx, base+"/"+strings.TrimPrefix(path, "/"), 15*time.Second, 4<<20,
		fmt.Sprintf("%s/%s:%d", ns, pod, port))
}

// get reads url within timeout and at most limit bytes; where names the pod in errors.
func get(ctx context.Context, url string, timeout time.Duration, limit int64, where string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	path := strings.TrimPrefix(req.URL.RequestURI(), "/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s on %s: %w", path, where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("GET %s on %s: read: %w", path, where, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s on %s: %s: %s", path, where, resp.Status, text.Truncate(string(body), 200))
	}
	return body, nil
}
