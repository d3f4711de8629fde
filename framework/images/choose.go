package images

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/meshconform/meshconform/framework/env"
)

// The node image upstream mode runs. kind supports a node image only with the kind release that built it, and only by
// digest ("You must use the @sha256 digest to guarantee an image built for this release", its release notes). kind
// v0.33.0 (KindVersion) publishes v1.37.0, v1.36.4, v1.35.8 and v1.34.11 (kindPublished), none for the kit's
// KubernetesVersion v1.34.2: upstream mode runs the 1.34 image it does publish, a newer patch release of the same
// minor, rather than a v1.34.2 image built for an older kind.
const (
	UpstreamKubernetesVersion = "v1.34.11"
	UpstreamNodeImage         = "kindest/node:" + UpstreamKubernetesVersion +
		"@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"
)

// kindPublished are the node images of kind's release notes ("Images pre-built for this release"), by kind release and
// Kubernetes version: a test keeps UpstreamNodeImage among KindVersion's, so a kind upgrade must revisit it.
var kindPublished = map[string]map[string]string{
	"v0.33.0": {
		"v1.37.0":  "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
		"v1.36.4":  "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
		"v1.35.8":  "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
		"v1.34.11": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
	},
}

// UpstreamNodeNote is what the log says about the upstream node image: which Kubernetes it runs and why not the kit's.
const UpstreamNodeNote = "kind " + KindVersion + "'s published image for Kubernetes " + UpstreamKubernetesVersion +
	", pinned by digest; kind " + KindVersion + " publishes none for the kit's " + KubernetesVersion

// Plan says which images an environment runs.
type Plan struct {
	Source    env.ImageSource
	Reason    string
	NodeImage string
	// Load are local images to copy into every node (the nodes cannot pull them).
	Load []string
}

// Artifacts are the kit artifacts provisioning builds for the plan: offline, the node image (debootstrap, Kubernetes
// from source: 20-40 minutes the first time), or the one with the mesh's images too; always MetalLB's manifest,
// taken from its Go module.
func (p Plan) Artifacts() []string {
	switch {
	case p.Source == env.SourceOffline && p.NodeImage == NodeMeshImage:
		return []string{"node", "node-mesh", "metallb-manifest"}
	case p.Source == env.SourceOffline:
		return []string{"node", "metallb-manifest"}
	}
	return []string{"metallb-manifest"}
}

// WithMesh is the plan for an environment whose mesh runs the kit's Istio and workload images (meshArtifacts, what
// the install needs, holds both): offline, its nodes start from NodeMeshImage, which holds them already, instead of
// having 190 MB copied into every node after the clusters are up. Upstream nodes get them copied as before.
func (p Plan) WithMesh(meshArtifacts []string) Plan {
	if p.Source == env.SourceOffline && slices.Contains(meshArtifacts, "istio") && slices.Contains(meshArtifacts, "workload") {
		p.NodeImage = NodeMeshImage
	}
	return p
}

// Choose picks the kit's offline images when forced or when the upstream registry does not answer, and says why.
func Choose(ctx context.Context, forceOffline bool) Plan {
	// MetalLB's images are preloaded in the offline node image.
	offline := Plan{Source: env.SourceOffline, NodeImage: NodeImage}
	if forceOffline {
		offline.Reason = "--offline"
		return offline
	}
	r := defaultProbe.run(ctx)
	if !r.ok {
		offline.Reason = "registry unreachable: " + r.String()
		return offline
	}
	return Plan{Source: env.SourceUpstream, Reason: r.String(), NodeImage: UpstreamNodeImage}
}

// probe asks a registry's /v2/ endpoint whether it answers: any HTTP answer below 500 means it is reachable (401 is
// what registries say to anonymous clients). It goes through the proxy HTTPS_PROXY names unless NO_PROXY exempts the
// host, as docker and containerd do when they pull, and retries, so a blip does not send a user with a registry into
// the kit's 20-40-minute source build.
type probe struct {
	url string
	// attempts, each bounded by timeout, with backoff before the second and doubling after: the defaults stay
	// under 10 s in all (3 × 2.5 s + 0.5 s + 1 s).
	attempts int
	timeout  time.Duration
	backoff  time.Duration
	// proxy reads the environment when nil. http.ProxyFromEnvironment reads it once per process; httpproxy (what
	// net/http uses underneath) reads it at each probe, which tests need and which costs nothing.
	proxy *httpproxy.Config
	// rootCAs and dial are for tests (nil: the system's).
	tlsConfig *tls.Config
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

var defaultProbe = probe{url: "https://registry.k8s.io/v2/", attempts: 3, timeout: 2500 * time.Millisecond,
	backoff: 500 * time.Millisecond}

// probeResult is what a probe found, for the Reason recorded in the environment and the log line.
type probeResult struct {
	ok       bool
	url      string
	route    string // "directly", "through proxy http://...", "directly (NO_PROXY exempts host)"
	status   int
	attempt  int // the attempt that answered, or the number made
	attempts int
	elapsed  time.Duration
	errs     []error // one per failed attempt
}

func (r probeResult) String() string {
	var b strings.Builder
	if r.ok {
		fmt.Fprintf(&b, "%s answered HTTP %d %s on attempt %d of %d", r.url, r.status, r.route, r.attempt, r.attempts)
		for i, err := range r.errs {
			fmt.Fprintf(&b, "; attempt %d: %v", i+1, err)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%s did not answer %s in %d attempts over %s", r.url, r.route, r.attempt,
		r.elapsed.Round(100*time.Millisecond))
	if n := len(r.errs); n > 0 {
		fmt.Fprintf(&b, " (last: %v)", r.errs[n-1])
	}
	return b.String()
}

func (p probe) run(ctx context.Context) probeResult {
	began := time.Now()
	r := probeResult{url: p.url, attempts: p.attempts, route: "directly"}
	target, err := url.Parse(p.url)
	if err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	cfg := p.proxy
	if cfg == nil {
		cfg = httpproxy.FromEnvironment()
	}
	proxyFor := cfg.ProxyFunc()
	proxyURL, err := proxyFor(target)
	switch {
	case err != nil:
		r.route = "through an unusable proxy setting"
		r.errs = append(r.errs, fmt.Errorf("HTTPS_PROXY/HTTP_PROXY: %w", err))
		return r
	case proxyURL != nil:
		r.route = "through proxy " + proxyURL.Redacted()
	case target.Scheme == "https" && cfg.HTTPSProxy != "" || target.Scheme == "http" && cfg.HTTPProxy != "":
		r.route = "directly (NO_PROXY exempts " + target.Hostname() + ")"
		if host := target.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
			r.route = "directly (" + host + " is a loopback address, never proxied)"
		}
	}
	dial := p.dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: p.timeout}).DialContext
	}
	tlsConfig := p.tlsConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:               func(*http.Request) (*url.URL, error) { return proxyURL, nil },
			DialContext:         dial,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: p.timeout,
			DisableKeepAlives:   true,
		},
		// The first answer is the verdict: a redirect to a CDN says the registry is there.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	wait := p.backoff
	for r.attempt = 1; ; r.attempt++ {
		status, err := p.once(ctx, client)
		if err == nil {
			r.ok, r.status, r.elapsed = true, status, time.Since(began)
			return r
		}
		r.errs = append(r.errs, err)
		if r.attempt >= p.attempts || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		wait *= 2
	}
	r.elapsed = time.Since(began)
	return r
}

func (p probe) once(ctx context.Context, client *http.Client) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the reason already
		}
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return resp.StatusCode, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, nil
}
