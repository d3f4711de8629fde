package images

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Missing walks dependencies only below what is missing, in build order, and estimates CPU-bound builds as a sum
// and the rest as overlapping them; Prebuild announces that and counts the builds.
func TestMissingAndPrebuild(t *testing.T) {
	present := map[string]bool{"pb-here": true}
	built := []string{}
	reg := func(name string, cpu bool, deps ...string) {
		register(&artifact{name: name, title: name, deps: deps, cpuBound: cpu, stamp: func(*Kit) string { return name },
			present: func(context.Context, *Kit, string) bool { return present[name] },
			build: func(context.Context, *Kit, string, io.Writer) error {
				built = append(built, name)
				present[name] = true
				return nil
			}})
		t.Cleanup(func() { delete(registry, name) })
	}
	reg("pb-here", true)           // present: neither built nor estimated
	reg("pb-go1", true, "pb-here") // CPU-bound
	reg("pb-go2", true)            // CPU-bound
	reg("pb-fetch", false)         // overlaps the Go builds
	reg("pb-image", false, "pb-go1", "pb-go2", "pb-fetch")
	reg("pb-unused", true, "pb-go1") // not asked for
	typical["pb-go1"], typical["pb-go2"], typical["pb-fetch"], typical["pb-image"] = 4*time.Minute, 2*time.Minute, 9*time.Minute, time.Minute
	t.Cleanup(func() {
		for _, n := range []string{"pb-go1", "pb-go2", "pb-fetch", "pb-image"} {
			delete(typical, n)
		}
	})
	var out bytes.Buffer
	k, err := New(Options{CacheDir: t.TempDir(), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	// The go2 build took 30 s here last time: that wins over the table.
	if err := os.WriteFile(filepath.Join(k.CacheDir(), "logs", "pb-go2.took"), []byte("30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := k.Missing(context.Background(), "pb-image")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Artifacts, ","); got != "pb-go1,pb-go2,pb-fetch,pb-image" {
		t.Fatalf("missing = %s, want dependencies first and nothing present or unasked", got)
	}
	cores := time.Duration(max(1, runtime.NumCPU()))
	if want := max(4*time.Minute*2/cores+30*time.Second, 9*time.Minute); b.Estimate != want {
		t.Fatalf("estimate = %s, want %s", b.Estimate, want)
	}
	if _, err := k.Missing(context.Background(), "pb-nope"); err == nil {
		t.Fatal("an unknown artifact was accepted")
	}

	if err := k.Prebuild(context.Background(), "pb-image"); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	for _, want := range []string{"building 4 artifacts from source first (pb-go1, pb-go2, pb-fetch, pb-image)",
		"(1 of 4)", "(4 of 4)", "later runs reuse them"} {
		if !strings.Contains(log, want) {
			t.Fatalf("prebuild output lacks %q:\n%s", want, log)
		}
	}
	if len(built) != 4 {
		t.Fatalf("built %v", built)
	}
	if _, err := os.Stat(filepath.Join(k.CacheDir(), "logs", "pb-image.took")); err != nil {
		t.Fatalf("build time not recorded: %v", err)
	}
	out.Reset()
	if err := k.Prebuild(context.Background(), "pb-image"); err != nil || !strings.Contains(out.String(), "all up to date") {
		t.Fatalf("second prebuild: err %v, output %q", err, out.String())
	}
}
