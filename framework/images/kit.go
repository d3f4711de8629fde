// Package images builds, with no container registry, every image meshconform runs: a kind node image, MetalLB,
// Istio's control plane (and a pilot-agent-only proxyv2 for the proxyless gRPC data plane), istioctl and our own test
// workload. Sources are pinned Go modules (through the module proxy) and Debian packages (through debootstrap).
//
// Each artifact carries a content stamp computed from its inputs alone, so a warm run decides what is up to date by
// hashing embedded files and inspecting image labels, without building anything.
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// StampLabel is the image label holding an artifact's content stamp.
const StampLabel = "io.meshconform.stamp"

// Options configures a Kit.
type Options struct {
	// CacheDir holds binaries, rootfs, logs and build modules. Default: DefaultCacheDir().
	CacheDir string
	// Out receives one progress line per artifact.
	Out io.Writer
	// Force rebuilds the named artifacts even when their stamps match.
	Force []string
	// DebianMirror for debootstrap. Default: the first http(s) URI in /etc/apt/sources.list(.d), else deb.debian.org.
	DebianMirror string
}

// DefaultCacheDir is $MESHCONFORM_CACHE, else $XDG_CACHE_HOME/meshconform, else ~/.cache/meshconform.
func DefaultCacheDir() string {
	if d := os.Getenv("MESHCONFORM_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "meshconform")
	}
	return filepath.Join(os.TempDir(), "meshconform-cache")
}

// Kit builds artifacts on demand, each at most once per Kit.
type Kit struct {
	opts  Options
	start time.Time

	mu      sync.Mutex
	results map[string]*result
	// total and built count the builds Prebuild announced, for its "(k of N)" lines.
	total, built int
	outMu        sync.Mutex
	// goBuild serialises Go builds: each already uses every core, running two at once only thrashes.
	goBuild sync.Mutex
}

type result struct {
	done chan struct{}
	err  error
}

// New returns a Kit.
func New(opts Options) (*Kit, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.DebianMirror == "" {
		opts.DebianMirror = detectMirror()
	}
	for _, d := range []string{"logs", "bin", "build", "manifests"} {
		if err := os.MkdirAll(filepath.Join(opts.CacheDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create cache dir: %w", err)
		}
	}
	return &Kit{opts: opts, start: time.Now(), results: map[string]*result{}}, nil
}

// CacheDir returns the kit's cache directory.
func (k *Kit) CacheDir() string { return k.opts.CacheDir }

// artifact is one thing the kit can produce.
type artifact struct {
	name  string
	title string
	deps  []string
	// stamp hashes this artifact's own inputs; dependency stamps are mixed in by Kit.Stamp.
	stamp func(k *Kit) string
	// present reports whether the output with this stamp already exists.
	present func(ctx context.Context, k *Kit, stamp string) bool
	// build produces the output, logging to log.
	build func(ctx context.Context, k *Kit, stamp string, log io.Writer) error
	// public artifacts are what `images build` builds and lists; the rest are intermediate steps.
	public bool
	// cpuBound artifacts (Go builds) run one at a time: each already uses every core.
	cpuBound bool
	// tools are the host commands build runs beyond docker and go (which every artifact needs).
	tools []hostTool
}

// hostTool is a command an artifact's build runs and the Debian package that installs it.
type hostTool struct{ command, pkg string }

// haveTool says whether a command is installed: on PATH, or in the sbin directories a non-root PATH lacks.
var haveTool = func(command string) bool {
	if _, err := exec.LookPath(command); err == nil {
		return true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if fi, err := os.Stat(filepath.Join(dir, command)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// MissingTools are the Debian packages of the host tools that Ensure(names...) (every public artifact when none is
// named) would run and that are not installed. Only what Ensure would build counts: an artifact that is up to date
// needs nothing, nor do its dependencies, so a machine whose kit is built (or that never needs the offline node
// image) is asked to install nothing.
func (k *Kit) MissingTools(ctx context.Context, names ...string) ([]string, error) {
	if len(names) == 0 {
		names = Names()
	}
	seen := map[string]bool{}
	var pkgs []string
	var walk func(name string) error
	walk = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		a, err := lookup(name)
		if err != nil {
			return err
		}
		if !k.forced(name) && a.present(ctx, k, k.Stamp(name)) {
			return nil
		}
		for _, t := range a.tools {
			if !haveTool(t.command) && !slices.Contains(pkgs, t.pkg) {
				pkgs = append(pkgs, t.pkg)
			}
		}
		for _, d := range a.deps {
			if err := walk(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := walk(n); err != nil {
			return nil, err
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// AptInstall is the command that installs Debian packages on a fresh machine: apt's lists may be missing or stale.
func AptInstall(pkgs ...string) string {
	return "apt-get update && apt-get install -y " + strings.Join(pkgs, " ")
}

var registry = map[string]*artifact{}

func register(a *artifact) { registry[a.name] = a }

// Names lists the public artifacts.
func Names() []string {
	var n []string
	for name, a := range registry {
		if a.public {
			n = append(n, name)
		}
	}
	sort.Strings(n)
	return n
}

// Describe returns an artifact's one-line title.
func Describe(name string) string {
	if a, ok := registry[name]; ok {
		return a.title
	}
	return ""
}

func lookup(name string) (*artifact, error) {
	a, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown image artifact %q: known are %s", name, strings.Join(Names(), ", "))
	}
	return a, nil
}

// Stamp returns the content stamp of an artifact: its own inputs and, recursively, its dependencies'.
func (k *Kit) Stamp(name string) string {
	a, err := lookup(name)
	if err != nil {
		return ""
	}
	h := newHasher("artifact", name, a.stamp(k))
	for _, d := range a.deps {
		h.add(d, k.Stamp(d))
	}
	return h.sum()
}

// UpToDate reports whether an artifact's output exists with its current stamp.
func (k *Kit) UpToDate(ctx context.Context, name string) bool {
	a, err := lookup(name)
	if err != nil {
		return false
	}
	return a.present(ctx, k, k.Stamp(name))
}

// Ensure builds the named artifacts (all public ones when none is named) and whatever they need that is missing.
func (k *Kit) Ensure(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		names = Names()
	}
	for _, n := range names {
		if _, err := lookup(n); err != nil {
			return err
		}
	}
	// Concurrently: Go builds still run one at a time (cpuBound), but debootstrap and image assembly overlap them.
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = k.ensure(ctx, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (k *Kit) forced(name string) bool {
	for _, f := range k.opts.Force {
		if f == name || f == "all" {
			return true
		}
	}
	return false
}

// ensure runs an artifact once per Kit; concurrent callers wait for the same result.
func (k *Kit) ensure(ctx context.Context, name string) error {
	k.mu.Lock()
	if r, ok := k.results[name]; ok {
		k.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := &result{done: make(chan struct{})}
	k.results[name] = r
	k.mu.Unlock()
	r.err = k.run(ctx, name)
	close(r.done)
	return r.err
}

func (k *Kit) run(ctx context.Context, name string) error {
	a, err := lookup(name)
	if err != nil {
		return err
	}
	stamp := k.Stamp(name)
	if !k.forced(name) && a.present(ctx, k, stamp) {
		if a.public {
			k.progress("%-22s up to date (stamp %s)", name, stamp[:12])
		}
		return nil
	}
	// Dependencies start together: debootstrap (network-bound) overlaps the Go builds (CPU-bound).
	var wg sync.WaitGroup
	depErrs := make([]error, len(a.deps))
	for i, d := range a.deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			depErrs[i] = k.ensure(ctx, d)
		}()
	}
	wg.Wait()
	if err := errors.Join(depErrs...); err != nil {
		return err
	}
	logPath := filepath.Join(k.opts.CacheDir, "logs", name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", name, err)
	}
	defer logFile.Close()
	if a.cpuBound {
		k.goBuild.Lock()
		defer k.goBuild.Unlock()
	}
	k.progress("%-22s building: %s (log: %s)", name, a.title, logPath)
	began := time.Now()
	if err := a.build(ctx, k, stamp, logFile); err != nil {
		k.progress("%-22s FAILED after %s", name, since(began))
		return fmt.Errorf("build %s: %w (log: %s)", name, err, logPath)
	}
	k.recordTook(name, time.Since(began))
	k.progress("%-22s built in %s%s", name, since(began), k.count())
	return nil
}

func (k *Kit) progress(format string, args ...any) {
	k.outMu.Lock()
	defer k.outMu.Unlock()
	fmt.Fprintf(k.opts.Out, "[images %6s] %s\n", since(k.start), fmt.Sprintf(format, args...))
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func detectMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if strings.HasPrefix(field, "http") && strings.HasSuffix(strings.TrimSuffix(field, "/"), "/debian") {
				return strings.TrimSuffix(field, "/")
			}
		}
	}
	return "http://deb.debian.org/debian"
}
