package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// typical is how long each artifact took to build cold on the 2-core machines CI runs on (measured; the README's
// "Measured" section has the run). Builds record what they really took (logs/<name>.took), and a recorded duration
// wins over this table.
var typical = map[string]time.Duration{
	"bin-kubernetes":    6 * time.Minute,
	"bin-istio":         4*time.Minute + 30*time.Second,
	"bin-etcd":          70 * time.Second,
	"bin-coredns":       2 * time.Minute,
	"bin-crictl":        40 * time.Second,
	"bin-node-fixtures": 10 * time.Second,
	"bin-workload":      40 * time.Second,
	"bin-metallb":       90 * time.Second,
	"bin-helm":          2 * time.Minute,
	"rootfs":            3 * time.Minute,
	"node":              40 * time.Second,
	"node-mesh":         25 * time.Second,
	"metallb":           5 * time.Second,
	"istio":             10 * time.Second,
	"workload":          3 * time.Second,
	"metallb-manifest":  2 * time.Second,
}

// typicalCores is the core count the table above was measured with.
const typicalCores = 2

// Build is what Missing found: artifacts to build, in an order where dependencies come first, and the estimate.
type Build struct {
	Artifacts []string
	// Estimate is the wall time expected on this machine: CPU-bound builds run one at a time and scale with cores;
	// the rest (debootstrap, image assembly) overlap them, so only the longest of those counts.
	Estimate time.Duration
}

// Missing lists what Ensure(names...) would build now, without building anything.
func (k *Kit) Missing(ctx context.Context, names ...string) (Build, error) {
	var b Build
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(n string) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		a, err := lookup(n)
		if err != nil {
			return err
		}
		if !k.forced(n) && a.present(ctx, k, k.Stamp(n)) {
			return nil
		}
		for _, d := range a.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		b.Artifacts = append(b.Artifacts, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return Build{}, err
		}
	}
	var cpu, overlapped time.Duration
	for _, n := range b.Artifacts {
		d := k.expected(n)
		if a, ok := registry[n]; ok && a.cpuBound {
			cpu += d
		} else {
			overlapped = max(overlapped, d)
		}
	}
	b.Estimate = max(cpu, overlapped)
	return b, nil
}

// expected is an artifact's last recorded build time on this machine, else the table scaled to this machine's cores.
func (k *Kit) expected(name string) time.Duration {
	if b, err := os.ReadFile(k.tookPath(name)); err == nil {
		if d, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil && d > 0 {
			return d
		}
	}
	d := typical[name]
	if a, ok := registry[name]; ok && a.cpuBound {
		d = d * typicalCores / time.Duration(max(1, runtime.NumCPU()))
	}
	return d
}

func (k *Kit) tookPath(name string) string {
	return filepath.Join(k.opts.CacheDir, "logs", name+".took")
}

// recordTook keeps what a build took, for the next estimate; losing it only makes the estimate coarser.
func (k *Kit) recordTook(name string, d time.Duration) {
	_ = os.WriteFile(k.tookPath(name), []byte(d.Round(time.Second).String()+"\n"), 0o644)
}

// Prebuild builds what the run will need before anything waits on it, saying first how much there is to build and
// counting the builds as they finish. Nothing to build is one line. No names: every public artifact.
func (k *Kit) Prebuild(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		names = Names()
	}
	b, err := k.Missing(ctx, names...)
	if err != nil {
		return err
	}
	if len(b.Artifacts) == 0 {
		k.progress("images needed (%s): all up to date", strings.Join(names, ", "))
		return nil
	}
	k.mu.Lock()
	k.total, k.built = len(b.Artifacts), 0
	k.mu.Unlock()
	k.progress("building %d artifacts from source first (%s): about %s on this machine (%s cores); later runs reuse them",
		len(b.Artifacts), strings.Join(b.Artifacts, ", "), roundEstimate(b.Estimate), strconv.Itoa(runtime.NumCPU()))
	return k.Ensure(ctx, names...)
}

// count is the "(k of N)" suffix of a finished build during Prebuild.
func (k *Kit) count() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.total == 0 {
		return ""
	}
	k.built++
	return fmt.Sprintf(" (%d of %d)", k.built, k.total)
}

func roundEstimate(d time.Duration) string {
	if d < time.Minute {
		return d.Round(10 * time.Second).String()
	}
	return fmt.Sprintf("%d minutes", int((d+30*time.Second)/time.Minute))
}
