package images

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
)

// registryHost is the name the tests give the registry: httptest's certificate is valid for example.com, and a
// non-loopback name is what proxies apply to (httpproxy never proxies loopback addresses).
const registryHost = "example.com"

// fakeRegistry is a real TLS server answering /v2/ with the statuses given, one per request, then the last forever;
// a status of 0 closes the connection without answering (a blip below HTTP).
type fakeRegistry struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	requests int
}

func newFakeRegistry(t *testing.T, statuses ...int) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{statuses: statuses}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		status := r.statuses[min(r.requests, len(r.statuses)-1)]
		r.requests++
		r.mu.Unlock()
		if req.URL.Path != "/v2/" {
			http.NotFound(w, req)
			return
		}
		if status == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *fakeRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// probeFor is a probe of https://example.com/v2/ whose direct dials to example.com:443 reach the fake registry (as
// DNS would), trusting its certificate; dials to anything else (a proxy) are real.
func probeFor(r *fakeRegistry) probe {
	addr := r.Listener.Addr().String()
	var d net.Dialer
	return probe{
		url: "https://" + registryHost + "/v2/", attempts: 3, timeout: 2 * time.Second, backoff: 20 * time.Millisecond,
		tlsConfig: r.Client().Transport.(*http.Transport).TLSClientConfig.Clone(),
		dial: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == registryHost+":443" {
				a = addr
			}
			return d.DialContext(ctx, network, a)
		},
	}
}

// connectProxy is a real HTTP proxy that tunnels CONNECT requests, to the fake registry for example.com:443, and
// records what it was asked; with refuse set it answers 407 instead.
type connectProxy struct {
	*httptest.Server
	connects atomic.Int32
	hosts    sync.Map
}

func newConnectProxy(t *testing.T, registry *fakeRegistry, refuse bool) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p.connects.Add(1)
		p.hosts.Store(req.Host, true)
		if req.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if refuse {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		if req.Host != registryHost+":443" {
			http.Error(w, "no route", http.StatusBadGateway)
			return
		}
		upstream, err := net.Dial("tcp", registry.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		go func() { _, _ = io.Copy(upstream, buf); upstream.Close() }()
		_, _ = io.Copy(conn, upstream)
		conn.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func clearProxyEnv(t *testing.T) {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
}

func TestProbeDirect(t *testing.T) {
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusUnauthorized) // what registries answer anonymous clients
	r := probeFor(reg).run(context.Background())
	if !r.ok || r.attempt != 1 || reg.count() != 1 {
		t.Fatalf("want an answer on the first attempt, got %+v after %d requests", r, reg.count())
	}
	if got := r.String(); got != "https://example.com/v2/ answered HTTP 401 directly on attempt 1 of 3" {
		t.Fatalf("reason: %q", got)
	}
}

func TestProbeRetriesABlip(t *testing.T) {
	clearProxyEnv(t)
	for name, statuses := range map[string][]int{
		"connection closed": {0, http.StatusOK},
		"HTTP 503":          {http.StatusServiceUnavailable, http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			reg := newFakeRegistry(t, statuses...)
			r := probeFor(reg).run(context.Background())
			if !r.ok || r.attempt != 2 || reg.count() != 2 {
				t.Fatalf("want an answer on the second attempt, got %+v after %d requests", r, reg.count())
			}
			reason := r.String()
			if !strings.Contains(reason, "answered HTTP 200 directly on attempt 2 of 3; attempt 1: ") {
				t.Fatalf("reason does not say the first attempt failed and the second answered: %q", reason)
			}
		})
	}
}

func TestProbeGivesUpWithinItsBound(t *testing.T) {
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusBadGateway)
	p := probeFor(reg)
	began := time.Now()
	r := p.run(context.Background())
	if r.ok || r.attempt != 3 || reg.count() != 3 {
		t.Fatalf("want 3 failed attempts, got %+v after %d requests", r, reg.count())
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("3 quick failures took %s", took)
	}
	if reason := r.String(); !strings.Contains(reason, "did not answer directly in 3 attempts") ||
		!strings.Contains(reason, "(last: HTTP 502 Bad Gateway)") {
		t.Fatalf("reason: %q", reason)
	}

	// A registry that accepts connections but never answers: each attempt ends at its timeout.
	hang := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	p = probe{url: slow.URL + "/v2/", attempts: 2, timeout: 150 * time.Millisecond, backoff: 10 * time.Millisecond,
		tlsConfig: slow.Client().Transport.(*http.Transport).TLSClientConfig.Clone()}
	began = time.Now()
	if r := p.run(context.Background()); r.ok || r.attempt != 2 {
		t.Fatalf("a registry that never answers: %+v", r)
	}
	if took := time.Since(began); took < 300*time.Millisecond || took > 2*time.Second {
		t.Fatalf("2 attempts of 150ms took %s", took)
	}
}

// The defaults a user meets: a few attempts, under 10 s in all, before the 20-40-minute source build.
func TestDefaultProbeIsBounded(t *testing.T) {
	p := defaultProbe
	worst := time.Duration(p.attempts) * p.timeout
	for i, w := 1, p.backoff; i < p.attempts; i, w = i+1, w*2 {
		worst += w
	}
	if p.attempts < 2 || worst > 10*time.Second {
		t.Fatalf("default probe: %d attempts, worst case %s (want at least 2, at most 10s)", p.attempts, worst)
	}
	if p.url != "https://registry.k8s.io/v2/" {
		t.Fatalf("default probe asks %s", p.url)
	}
}

func TestProbeUsesHTTPSProxy(t *testing.T) {
	// A mesh of the kit's Istio and workload: offline nodes start with their images; a mesh of other images, or
	// upstream nodes, do not.
	off := Choose(context.Background(), true)
	if p := off.WithMesh([]string{"workload", "istio"}); p.NodeImage != NodeMeshImage ||
		strings.Join(p.Artifacts(), ",") != "node,node-mesh,metallb-manifest" {
		t.Errorf("kit mesh offline: %+v, artifacts %v", p, p.Artifacts())
	}
	if p := off.WithMesh([]string{"workload"}); p.NodeImage != NodeImage {
		t.Errorf("mesh of other Istio images offline: %+v", p)
	}
	if p := (Plan{Source: env.SourceUpstream, NodeImage: UpstreamNodeImage}).WithMesh([]string{"workload", "istio"}); p.NodeImage != UpstreamNodeImage {
		t.Errorf("upstream: %+v", p)
	}
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusOK)
	proxy := newConnectProxy(t, reg, false)
	u, _ := url.Parse(proxy.URL)
	u.User = url.UserPassword("ci", "s3cret")
	t.Setenv("HTTPS_PROXY", u.String())
	p := probeFor(reg)
	p.dial = nil // only the proxy is dialled, and it is on loopback: no name mapping needed
	r := p.run(context.Background())
	if !r.ok || proxy.connects.Load() != 1 || reg.count() != 1 {
		t.Fatalf("want one answer through the proxy, got %+v; proxy asked %d times, registry %d", r, proxy.connects.Load(), reg.count())
	}
	if _, ok := proxy.hosts.Load(registryHost + ":443"); !ok {
		t.Fatal("the proxy was not asked to CONNECT to example.com:443")
	}
	reason := r.String()
	if !strings.Contains(reason, "answered HTTP 200 through proxy http://ci:xxxxx@127.0.0.1:") {
		t.Fatalf("reason does not name the proxy: %q", reason)
	}
	if strings.Contains(reason, "s3cret") {
		t.Fatalf("reason prints the proxy's password: %q", reason)
	}
}

func TestProbeHonoursNoProxy(t *testing.T) {
	// A mesh of the kit's Istio and workload: offline nodes start with their images; a mesh of other images, or
	// upstream nodes, do not.
	off := Choose(context.Background(), true)
	if p := off.WithMesh([]string{"workload", "istio"}); p.NodeImage != NodeMeshImage ||
		strings.Join(p.Artifacts(), ",") != "node,node-mesh,metallb-manifest" {
		t.Errorf("kit mesh offline: %+v, artifacts %v", p, p.Artifacts())
	}
	if p := off.WithMesh([]string{"workload"}); p.NodeImage != NodeImage {
		t.Errorf("mesh of other Istio images offline: %+v", p)
	}
	if p := (Plan{Source: env.SourceUpstream, NodeImage: UpstreamNodeImage}).WithMesh([]string{"workload", "istio"}); p.NodeImage != UpstreamNodeImage {
		t.Errorf("upstream: %+v", p)
	}
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusOK)
	proxy := newConnectProxy(t, reg, false)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "localhost,.svc,"+registryHost)
	r := probeFor(reg).run(context.Background())
	if !r.ok || reg.count() != 1 {
		t.Fatalf("want a direct answer, got %+v", r)
	}
	if n := proxy.connects.Load(); n != 0 {
		t.Fatalf("NO_PROXY names %s, yet the proxy was asked %d times", registryHost, n)
	}
	if got := r.String(); !strings.Contains(got, "answered HTTP 200 directly (NO_PROXY exempts example.com)") {
		t.Fatalf("reason: %q", got)
	}
}

func TestProbeReportsAProxyThatRefuses(t *testing.T) {
	// A mesh of the kit's Istio and workload: offline nodes start with their images; a mesh of other images, or
	// upstream nodes, do not.
	off := Choose(context.Background(), true)
	if p := off.WithMesh([]string{"workload", "istio"}); p.NodeImage != NodeMeshImage ||
		strings.Join(p.Artifacts(), ",") != "node,node-mesh,metallb-manifest" {
		t.Errorf("kit mesh offline: %+v, artifacts %v", p, p.Artifacts())
	}
	if p := off.WithMesh([]string{"workload"}); p.NodeImage != NodeImage {
		t.Errorf("mesh of other Istio images offline: %+v", p)
	}
	if p := (Plan{Source: env.SourceUpstream, NodeImage: UpstreamNodeImage}).WithMesh([]string{"workload", "istio"}); p.NodeImage != UpstreamNodeImage {
		t.Errorf("upstream: %+v", p)
	}
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusOK)
	proxy := newConnectProxy(t, reg, true)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	r := probeFor(reg).run(context.Background())
	if r.ok || r.attempt != 3 || proxy.connects.Load() != 3 || reg.count() != 0 {
		t.Fatalf("want 3 refused attempts, got %+v; proxy asked %d times, registry %d", r, proxy.connects.Load(), reg.count())
	}
	reason := r.String()
	if !strings.Contains(reason, "did not answer through proxy "+proxy.URL+" in 3 attempts") ||
		!strings.Contains(reason, "Proxy Authentication Required") {
		t.Fatalf("reason: %q", reason)
	}
}

func TestChoose(t *testing.T) {
	if p := Choose(context.Background(), true); p.Source != env.SourceOffline || p.Reason != "--offline" ||
		p.NodeImage != NodeImage || strings.Join(p.Artifacts(), ",") != "node,metallb-manifest" {
		t.Fatalf("forced offline: %+v, artifacts %v", p, p.Artifacts())
	}
	// A mesh of the kit's Istio and workload: offline nodes start with their images; a mesh of other images, or
	// upstream nodes, do not.
	off := Choose(context.Background(), true)
	if p := off.WithMesh([]string{"workload", "istio"}); p.NodeImage != NodeMeshImage ||
		strings.Join(p.Artifacts(), ",") != "node,node-mesh,metallb-manifest" {
		t.Errorf("kit mesh offline: %+v, artifacts %v", p, p.Artifacts())
	}
	if p := off.WithMesh([]string{"workload"}); p.NodeImage != NodeImage {
		t.Errorf("mesh of other Istio images offline: %+v", p)
	}
	if p := (Plan{Source: env.SourceUpstream, NodeImage: UpstreamNodeImage}).WithMesh([]string{"workload", "istio"}); p.NodeImage != UpstreamNodeImage {
		t.Errorf("upstream: %+v", p)
	}
	clearProxyEnv(t)
	reg := newFakeRegistry(t, http.StatusOK)
	saved := defaultProbe
	defer func() { defaultProbe = saved }()

	defaultProbe = probeFor(reg)
	p := Choose(context.Background(), false)
	if p.Source != env.SourceUpstream || p.NodeImage != UpstreamNodeImage || !strings.Contains(p.Reason, "answered HTTP 200") ||
		strings.Join(p.Artifacts(), ",") != "metallb-manifest" {
		t.Fatalf("reachable registry: %+v, artifacts %v", p, p.Artifacts())
	}

	defaultProbe.url = "https://" + registryHost + ":1/v2/" // nothing listens on port 1
	defaultProbe.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	p = Choose(context.Background(), false)
	if p.Source != env.SourceOffline || p.NodeImage != NodeImage ||
		!strings.HasPrefix(p.Reason, "registry unreachable: https://example.com:1/v2/ did not answer directly in 3 attempts") {
		t.Fatalf("unreachable registry: %+v", p)
	}
}

// kind supports a node image only with the release that built it, by digest: the upstream image must be one kind's
// pinned release published, of the kit's Kubernetes minor.
func TestUpstreamNodeImageIsPublishedByPinnedKind(t *testing.T) {
	published, ok := kindPublished[KindVersion]
	if !ok {
		t.Fatalf("kind %s (go.mod) has no published-image list: copy it from the release notes' \"Images pre-built for this release\"", KindVersion)
	}
	if published[UpstreamKubernetesVersion] != UpstreamNodeImage {
		t.Fatalf("UpstreamNodeImage %s is not kind %s's image for %s (%s)", UpstreamNodeImage, KindVersion,
			UpstreamKubernetesVersion, published[UpstreamKubernetesVersion])
	}
	minor := func(v string) string { return v[:strings.LastIndex(v, ".")] }
	if minor(UpstreamKubernetesVersion) != minor(KubernetesVersion) {
		t.Fatalf("upstream mode runs Kubernetes %s, the kit %s: not the same minor", UpstreamKubernetesVersion, KubernetesVersion)
	}
	if _, exact := published[KubernetesVersion]; exact && UpstreamKubernetesVersion != KubernetesVersion {
		t.Fatalf("kind %s publishes %s itself: use it", KindVersion, KubernetesVersion)
	}
	if !strings.Contains(UpstreamNodeImage, "@sha256:") {
		t.Fatal("the upstream node image is not pinned by digest")
	}
}
