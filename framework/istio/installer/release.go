package installer

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	slashpath "path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// DefaultReleaseURL is where Istio publishes release archives (<base>/<version>/istioctl-<version>-<os>-<arch>.tar.gz
// and a .sha256 file next to each).
const DefaultReleaseURL = "https://github.com/istio/istio/releases/download"

// ReleaseURLEnv overrides DefaultReleaseURL (a mirror, or a test server).
const ReleaseURLEnv = "MESHCONFORM_ISTIO_RELEASE_URL"

// ExampleRelease is the released Istio named where meshconform says how to run what needs Envoy (--istio-version):
// the newest minor release when this was written (1.31.0, 2026-08-31; the one before, 1.30, is at 1.30.4). The
// GitHub workflow's matrix runs it (a test checks), so the advice is a command CI runs.
const ExampleRelease = "1.31.0"

// ReleaseHub is the hub a released istioctl installs its images from when no --hub is given.
const ReleaseHub = "docker.io/istio"

// FetchOptions configure FetchIstioctl.
type FetchOptions struct {
	// Version is an Istio release, e.g. 1.24.3.
	Version string
	// BaseURL defaults to $MESHCONFORM_ISTIO_RELEASE_URL, else DefaultReleaseURL.
	BaseURL string
	// CacheDir holds <version>/istioctl; typically <meshconform cache>/istioctl.
	CacheDir string
	// GOOS and GOARCH choose the archive; default runtime's.
	GOOS, GOARCH string
	Client       *http.Client
	// Out receives progress lines.
	Out io.Writer
}

// Release versions are path components of the cache and of the URL: nothing else is accepted.
var releaseVersionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+_-]*$`)

// IstioctlArchive is the release archive's file name for a platform (Istio names macOS "osx", and its amd64 build
// carries no architecture).
func IstioctlArchive(version, goos, goarch string) (string, error) {
	switch goos {
	case "linux":
		return fmt.Sprintf("istioctl-%s-linux-%s.tar.gz", version, goarch), nil
	case "darwin":
		if goarch == "amd64" {
			return fmt.Sprintf("istioctl-%s-osx.tar.gz", version), nil
		}
		return fmt.Sprintf("istioctl-%s-osx-%s.tar.gz", version, goarch), nil
	}
	return "", fmt.Errorf("istio publishes no istioctl archive for %s/%s: pass --istioctl PATH instead", goos, goarch)
}

// verifiedSuffix names the record written once an istioctl passed its checksum: the archive's published digest and
// the extracted binary's digest, so a reused binary is checked against what was verified.
const verifiedSuffix = ".verified"

// FetchIstioctl returns the istioctl of an Istio release, downloading it into CacheDir/<version>/istioctl when no
// verified copy is cached. The archive must match the .sha256 file published next to it. Downloads go to temporary
// files renamed into place, so an interruption leaves nothing half-written.
func FetchIstioctl(ctx context.Context, o FetchOptions) (string, error) {
	if !releaseVersionRE.MatchString(o.Version) {
		return "", fmt.Errorf("--istio-version %q: want an Istio release such as 1.24.3", o.Version)
	}
	if o.BaseURL == "" {
		o.BaseURL = os.Getenv(ReleaseURLEnv)
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultReleaseURL
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.GOARCH == "" {
		o.GOARCH = runtime.GOARCH
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.CacheDir == "" {
		return "", errors.New("fetch istioctl: no cache directory")
	}
	archive, err := IstioctlArchive(o.Version, o.GOOS, o.GOARCH)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(o.CacheDir, o.Version)
	bin := filepath.Join(dir, "istioctl")
	if ok, err := cachedVerified(bin); ok {
		fmt.Fprintf(o.Out, "istioctl %s: using the verified copy in %s\n", o.Version, bin)
		return bin, nil
	} else if err != nil {
		fmt.Fprintf(o.Out, "istioctl %s: cached copy rejected (%v): downloading again\n", o.Version, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("istioctl cache: %w", err)
	}
	url := strings.TrimSuffix(o.BaseURL, "/") + "/" + slashpath.Join(o.Version, archive)

	// The checksum first: a release without one is refused before anything large is downloaded.
	want, err := fetchChecksum(ctx, o, url, archive)
	if err != nil {
		return "", err
	}
	tmp, got, err := download(ctx, o, url, dir)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	if got != want {
		return "", fmt.Errorf("istioctl %s: checksum mismatch for %s: downloaded sha256 %s, published %s (%s.sha256); "+
			"refusing it (a broken mirror, a proxy rewriting downloads, or a tampered release)", o.Version, url, got, want, url)
	}
	fmt.Fprintf(o.Out, "istioctl %s: sha256 %s verified\n", o.Version, got)
	binDigest, err := extractIstioctl(tmp, bin)
	if err != nil {
		return "", fmt.Errorf("istioctl %s: %s: %w", o.Version, url, err)
	}
	record := fmt.Sprintf("archive %s %s\nistioctl %s\n", archive, got, binDigest)
	if err := writeFileAtomic(bin+verifiedSuffix, []byte(record), 0o644); err != nil {
		return "", fmt.Errorf("istioctl %s: %w", o.Version, err)
	}
	fmt.Fprintf(o.Out, "istioctl %s: ready at %s\n", o.Version, bin)
	return bin, nil
}

// cachedVerified reports whether bin exists with a record of its verification and still has the recorded digest.
// A binary without a record (an interrupted fetch) is not an error, only not reusable.
func cachedVerified(bin string) (bool, error) {
	rec, err := os.ReadFile(bin + verifiedSuffix)
	if err != nil {
		return false, nil
	}
	var want string
	for _, line := range strings.Split(string(rec), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "istioctl" {
			want = f[1]
		}
	}
	if want == "" {
		return false, fmt.Errorf("unreadable record %s", bin+verifiedSuffix)
	}
	got, err := fileSHA256(bin)
	if err != nil {
		return false, err
	}
	if got != want {
		return false, fmt.Errorf("%s has sha256 %s, verified as %s", bin, got, want)
	}
	return true, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func get(ctx context.Context, c *http.Client, method, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// fetchChecksum reads the published digest; on a 404 it asks whether the archive exists, to say which is missing.
func fetchChecksum(ctx context.Context, o FetchOptions, url, archive string) (string, error) {
	sumURL := url + ".sha256"
	resp, err := get(ctx, o.Client, http.MethodGet, sumURL)
	if err != nil {
		return "", unreachable(ctx, o, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		if head, herr := get(ctx, o.Client, http.MethodHead, url); herr == nil {
			head.Body.Close()
			if head.StatusCode == http.StatusNotFound {
				return "", releaseNotFound(o, url)
			}
		}
		return "", fmt.Errorf("istioctl %s: no checksum file at %s: refusing to install an unverified istioctl "+
			"(download and check it yourself, then pass --istioctl PATH)", o.Version, sumURL)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("istioctl %s: GET %s: %s", o.Version, sumURL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("istioctl %s: read %s: %w", o.Version, sumURL, err)
	}
	// sha256sum's format: "<hex>  <file name>".
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f[0]) != sha256.Size*2 {
		return "", fmt.Errorf("istioctl %s: %s holds no sha256 digest: %q", o.Version, sumURL, tail(string(b), 1))
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return "", fmt.Errorf("istioctl %s: %s holds no sha256 digest: %q", o.Version, sumURL, f[0])
	}
	if len(f) > 1 && strings.TrimPrefix(f[1], "*") != archive {
		return "", fmt.Errorf("istioctl %s: %s is the checksum of %s, not %s", o.Version, sumURL, f[1], archive)
	}
	return strings.ToLower(f[0]), nil
}

// unreachable wraps a transport error with the ways around it.
func unreachable(ctx context.Context, o FetchOptions, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("istioctl %s: %w: the release server is unreachable from here; use a mirror (--istio-release-url "+
		"or $%s) or an istioctl you have (--istioctl PATH)", o.Version, err, ReleaseURLEnv)
}

func releaseNotFound(o FetchOptions, url string) error {
	return fmt.Errorf("istioctl %s: no such release: %s answers 404; check the version against "+
		"https://github.com/istio/istio/releases (e.g. 1.24.3, without a leading v) or the mirror given with "+
		"--istio-release-url / $%s", o.Version, url, ReleaseURLEnv)
}

// download streams url into a temporary file in dir, hashing it and printing progress; it returns the file and its
// sha256.
func download(ctx context.Context, o FetchOptions, url, dir string) (string, string, error) {
	resp, err := get(ctx, o.Client, http.MethodGet, url)
	if err != nil {
		return "", "", unreachable(ctx, o, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", "", releaseNotFound(o, url)
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("istioctl %s: GET %s: %s", o.Version, url, resp.Status)
	}
	f, err := os.CreateTemp(dir, ".download-*.tar.gz")
	if err != nil {
		return "", "", fmt.Errorf("istioctl %s: %w", o.Version, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	fmt.Fprintf(o.Out, "istioctl %s: downloading %s%s\n", o.Version, url, sizeNote(resp.ContentLength))
	h := sha256.New()
	p := &progress{out: o.Out, version: o.Version, total: resp.ContentLength, last: time.Now()}
	if _, err := io.Copy(io.MultiWriter(f, h, p), resp.Body); err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "", "", fmt.Errorf("istioctl %s: download %s: %w", o.Version, url, err)
	}
	if err := f.Close(); err != nil {
		return "", "", err
	}
	ok = true
	return f.Name(), hex.EncodeToString(h.Sum(nil)), nil
}

func sizeNote(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.1f MB)", float64(n)/1e6)
}

// progress prints a line every 5 seconds of a download.
type progress struct {
	out     io.Writer
	version string
	total   int64
	n       int64
	last    time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		if p.total > 0 {
			fmt.Fprintf(p.out, "istioctl %s: %d%% (%.1f of %.1f MB)\n", p.version, p.n*100/p.total, float64(p.n)/1e6, float64(p.total)/1e6)
		} else {
			fmt.Fprintf(p.out, "istioctl %s: %.1f MB\n", p.version, float64(p.n)/1e6)
		}
	}
	return len(b), nil
}

// extractIstioctl writes the archive's istioctl to dst (temporary file, then rename) and returns its sha256.
func extractIstioctl(archive, dst string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return "", errors.New("the archive holds no istioctl")
		}
		if err != nil {
			return "", fmt.Errorf("read archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || slashpath.Base(hdr.Name) != "istioctl" {
			continue
		}
		h := sha256.New()
		if err := writeAtomic(dst, 0o755, io.TeeReader(tr, h)); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
}

func writeFileAtomic(dst string, b []byte, mode os.FileMode) error {
	return writeAtomic(dst, mode, strings.NewReader(string(b)))
}

// writeAtomic writes r to a temporary file next to dst, syncs it and renames it over dst.
func writeAtomic(dst string, mode os.FileMode, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
