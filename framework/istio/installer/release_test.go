package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// releaseServer serves Istio's release layout: /<version>/<archive> and /<version>/<archive>.sha256.
type releaseServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	requests []string
	// block, when set, stalls archive downloads after the first bytes until the request is cancelled.
	block bool
}

func newReleaseServer(t *testing.T) *releaseServer {
	s := &releaseServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		b, ok := s.files[r.URL.Path]
		block := s.block
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if block && strings.HasSuffix(r.URL.Path, ".tar.gz") {
			w.Write(b[:10])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *releaseServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// istioctlArchive is a release archive holding an istioctl with the given content.
func istioctlArchive(t *testing.T, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{{"LICENSE", "license"}, {"istioctl", content}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

const testIstioVersion = "1.24.3"

// publish serves a release: the archive, and its checksum file unless sumFile is "-".
func (s *releaseServer) publish(version string, archive []byte, sumFile string) {
	name := "istioctl-" + version + "-linux-amd64.tar.gz"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files["/"+version+"/"+name] = archive
	if sumFile == "" {
		sumFile = sum(archive) + "  " + name + "\n"
	}
	if sumFile != "-" {
		s.files["/"+version+"/"+name+".sha256"] = []byte(sumFile)
	}
}

func fetchOpts(s *releaseServer, cache string, out *bytes.Buffer) FetchOptions {
	return FetchOptions{Version: testIstioVersion, BaseURL: s.URL, CacheDir: cache, GOOS: "linux", GOARCH: "amd64", Out: out}
}

// leftovers lists what is in a version's cache directory besides the binary and its record.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var extra []string
	for _, e := range entries {
		if e.Name() != "istioctl" && e.Name() != "istioctl"+verifiedSuffix {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestFetchIstioctlVerifiesAndCaches(t *testing.T) {
	s := newReleaseServer(t)
	s.publish(testIstioVersion, istioctlArchive(t, "#!/bin/sh\necho istioctl\n"), "")
	cache := t.TempDir()
	var out bytes.Buffer
	bin, err := FetchIstioctl(context.Background(), fetchOpts(s, cache, &out))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, testIstioVersion, "istioctl"); bin != want {
		t.Errorf("istioctl at %s, want %s", bin, want)
	}
	b, err := os.ReadFile(bin)
	if err != nil || string(b) != "#!/bin/sh\necho istioctl\n" {
		t.Errorf("istioctl content %q, %v", b, err)
	}
	if fi, _ := os.Stat(bin); fi.Mode().Perm() != 0o755 {
		t.Errorf("istioctl mode %v, want 0755", fi.Mode().Perm())
	}
	if extra := leftovers(t, filepath.Dir(bin)); len(extra) > 0 {
		t.Errorf("left behind: %v", extra)
	}
	for _, want := range []string{"downloading " + s.URL + "/1.24.3/istioctl-1.24.3-linux-amd64.tar.gz", "verified", "ready at " + bin} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}

	// A second fetch reuses the verified copy without asking the server anything.
	before := s.count()
	out.Reset()
	again, err := FetchIstioctl(context.Background(), fetchOpts(s, cache, &out))
	if err != nil || again != bin {
		t.Fatalf("second fetch: %s, %v", again, err)
	}
	if s.count() != before {
		t.Errorf("second fetch made %d requests, want none", s.count()-before)
	}
	if !strings.Contains(out.String(), "using the verified copy") {
		t.Errorf("second fetch said %q", out.String())
	}

	// A cached binary that no longer has the verified digest is fetched again.
	os.WriteFile(bin, []byte("tampered"), 0o755)
	out.Reset()
	if _, err := FetchIstioctl(context.Background(), fetchOpts(s, cache, &out)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "#!/bin/sh\necho istioctl\n" {
		t.Errorf("tampered copy kept: %q", b)
	}
	if !strings.Contains(out.String(), "cached copy rejected") {
		t.Errorf("no word about the rejected copy: %s", out.String())
	}
}

func TestFetchIstioctlRefusesAChecksumMismatch(t *testing.T) {
	s := newReleaseServer(t)
	archive := istioctlArchive(t, "real")
	published := sum([]byte("something else"))
	s.publish(testIstioVersion, archive, published+"  istioctl-1.24.3-linux-amd64.tar.gz\n")
	cache := t.TempDir()
	_, err := FetchIstioctl(context.Background(), fetchOpts(s, cache, &bytes.Buffer{}))
	if err == nil {
		t.Fatal("a mismatching archive was accepted")
	}
	for _, want := range []string{"checksum mismatch", sum(archive), published} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	dir := filepath.Join(cache, testIstioVersion)
	if _, err := os.Stat(filepath.Join(dir, "istioctl")); err == nil {
		t.Error("istioctl installed despite the mismatch")
	}
	if extra := leftovers(t, dir); len(extra) > 0 {
		t.Errorf("left behind: %v", extra)
	}
}

func TestFetchIstioctlRefusesAnUnverifiableRelease(t *testing.T) {
	s := newReleaseServer(t)
	s.publish(testIstioVersion, istioctlArchive(t, "real"), "-")
	_, err := FetchIstioctl(context.Background(), fetchOpts(s, t.TempDir(), &bytes.Buffer{}))
	if err == nil || !strings.Contains(err.Error(), "no checksum file") || !strings.Contains(err.Error(), ".sha256") ||
		!strings.Contains(err.Error(), "--istioctl PATH") {
		t.Errorf("missing checksum file: %v", err)
	}

	s.publish("1.24.4", istioctlArchive(t, "real"), "not a digest\n")
	o := fetchOpts(s, t.TempDir(), &bytes.Buffer{})
	o.Version = "1.24.4"
	if _, err := FetchIstioctl(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no sha256 digest") {
		t.Errorf("garbage checksum file: %v", err)
	}

	s.publish("1.24.5", istioctlArchive(t, "real"), sum([]byte("x"))+"  istioctl-1.24.5-osx.tar.gz\n")
	o.Version = "1.24.5"
	if _, err := FetchIstioctl(context.Background(), o); err == nil || !strings.Contains(err.Error(), "checksum of istioctl-1.24.5-osx.tar.gz") {
		t.Errorf("checksum of another file: %v", err)
	}
}

func TestFetchIstioctlNamesAMissingVersion(t *testing.T) {
	s := newReleaseServer(t)
	o := fetchOpts(s, t.TempDir(), &bytes.Buffer{})
	o.Version = "9.9.9"
	_, err := FetchIstioctl(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "istioctl 9.9.9: no such release") || !strings.Contains(err.Error(), "404") ||
		!strings.Contains(err.Error(), "/9.9.9/istioctl-9.9.9-linux-amd64.tar.gz") {
		t.Errorf("missing release: %v", err)
	}
}

func TestFetchIstioctlInterruptedLeavesNothing(t *testing.T) {
	s := newReleaseServer(t)
	s.publish(testIstioVersion, istioctlArchive(t, "real"), "")
	s.block = true
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := fetchOpts(s, cache, &bytes.Buffer{})
	o.Out = writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("downloading")) {
			cancel() // Ctrl-C during the download
		}
		return len(p), nil
	})
	_, err := FetchIstioctl(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted fetch: %v, want context.Canceled", err)
	}
	dir := filepath.Join(cache, testIstioVersion)
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("interrupted fetch left %v", entries)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFetchIstioctlBaseURLFromEnvironment(t *testing.T) {
	s := newReleaseServer(t)
	s.publish(testIstioVersion, istioctlArchive(t, "real"), "")
	t.Setenv(ReleaseURLEnv, s.URL+"/")
	o := fetchOpts(s, t.TempDir(), &bytes.Buffer{})
	o.BaseURL = ""
	if _, err := FetchIstioctl(context.Background(), o); err != nil {
		t.Fatalf("%s=%s: %v", ReleaseURLEnv, s.URL, err)
	}
}

func TestFetchIstioctlRejectsOddVersions(t *testing.T) {
	for _, v := range []string{"", "../../etc", "v1.24.3", "1.24.3/x", "latest"} {
		if _, err := FetchIstioctl(context.Background(), FetchOptions{Version: v, CacheDir: t.TempDir()}); err == nil ||
			!strings.Contains(err.Error(), "--istio-version") {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

func TestIstioctlArchive(t *testing.T) {
	cases := map[[2]string]string{
		{"linux", "amd64"}:  "istioctl-1.24.3-linux-amd64.tar.gz",
		{"linux", "arm64"}:  "istioctl-1.24.3-linux-arm64.tar.gz",
		{"darwin", "amd64"}: "istioctl-1.24.3-osx.tar.gz",
		{"darwin", "arm64"}: "istioctl-1.24.3-osx-arm64.tar.gz",
	}
	for p, want := range cases {
		if got, err := IstioctlArchive("1.24.3", p[0], p[1]); err != nil || got != want {
			t.Errorf("%v: %s, %v; want %s", p, got, err, want)
		}
	}
	if _, err := IstioctlArchive("1.24.3", "windows", "amd64"); err == nil || !strings.Contains(err.Error(), "--istioctl") {
		t.Errorf("windows: %v", err)
	}
}

func TestFetchIstioctlUnreachableNamesTheWayAround(t *testing.T) {
	s := newReleaseServer(t)
	url := s.URL
	s.Close()
	o := FetchOptions{Version: testIstioVersion, BaseURL: url, CacheDir: t.TempDir(), GOOS: "linux", GOARCH: "amd64"}
	_, err := FetchIstioctl(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "--istio-release-url") || !strings.Contains(err.Error(), "--istioctl PATH") {
		t.Errorf("unreachable server: %v", err)
	}
}
