package images

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/meshconform/meshconform/framework/env"
)

const (
	// UpstreamNodeImage is kind's published node image for KubernetesVersion, used where registries are reachable.
	UpstreamNodeImage = "kindest/node:" + KubernetesVersion
)

// Plan says which images an environment runs.
type Plan struct {
	Source    env.ImageSource
	Reason    string
	NodeImage string
	// Load are local images to copy into every node (the nodes cannot pull them).
	Load []string
}

// probeRegistry is what Choose asks: any HTTP answer from the registry means it is reachable.
var probeRegistry = "https://registry.k8s.io/v2/"

// Choose picks the kit's offline images when forced or when the upstream registry cannot be reached.
func Choose(ctx context.Context, forceOffline bool) Plan {
	// MetalLB's images are preloaded in the offline node image.
	offline := Plan{Source: env.SourceOffline, NodeImage: NodeImage}
	if forceOffline {
		offline.Reason = "--offline"
		return offline
	}
	if err := reachable(ctx, probeRegistry); err != nil {
		offline.Reason = "registry unreachable (" + err.Error() + ")"
		return offline
	}
	return Plan{Source: env.SourceUpstream, Reason: probeRegistry + " reachable", NodeImage: UpstreamNodeImage}
}

func reachable(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		DialContext:     (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
