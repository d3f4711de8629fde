package images

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform"
)

func TestHasherSeparatesParts(t *testing.T) {
	if newHasher("ab", "c").sum() == newHasher("a", "bc").sum() {
		t.Fatal("parts running together produce the same stamp")
	}
	if a, b := newHasher("x").sum(), newHasher("x").sum(); a != b {
		t.Fatal("stamp is not deterministic")
	}
}

func TestStampsAreStableAndFollowInputs(t *testing.T) {
	k, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		a, b := k.Stamp(n), k.Stamp(n)
		if a == "" || a != b {
			t.Fatalf("%s: stamp %q then %q", n, a, b)
		}
	}
	if k.Stamp("node") == k.Stamp("istio") {
		t.Fatal("different artifacts share a stamp")
	}
	// A dependency's input change must reach every artifact built on it.
	before := k.Stamp("node")
	m := registry["bin-etcd"]
	orig := m.stamp
	m.stamp = func(*Kit) string { return "changed" }
	defer func() { m.stamp = orig }()
	if k.Stamp("node") == before {
		t.Fatal("node stamp ignores a change in its etcd dependency")
	}
	if a, b := k.Stamp("istio"), k.Stamp("istio"); a != b {
		t.Fatal("unrelated stamp unstable")
	}
}

// An up-to-date artifact is not rebuilt: the warm path must only hash and inspect.
func TestEnsureSkipsPresentArtifacts(t *testing.T) {
	builds := 0
	register(&artifact{name: "test-present", title: "t", stamp: func(*Kit) string { return "s" },
		present: func(context.Context, *Kit, string) bool { return true },
		build:   func(context.Context, *Kit, string, io.Writer) error { builds++; return nil }})
	register(&artifact{name: "test-missing", title: "t", deps: []string{"test-present"}, stamp: func(*Kit) string { return "s" },
		present: func(context.Context, *Kit, string) bool { return false },
		build:   func(context.Context, *Kit, string, io.Writer) error { builds += 10; return nil }})
	defer delete(registry, "test-present")
	defer delete(registry, "test-missing")
	k, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(context.Background(), "test-missing", "test-missing"); err != nil {
		t.Fatal(err)
	}
	if builds != 10 {
		t.Fatalf("builds = %d, want only the missing artifact built once (10)", builds)
	}
	if err := k.Ensure(context.Background(), "no-such-artifact"); err == nil || !strings.Contains(err.Error(), "known are") {
		t.Fatalf("unknown artifact: err = %v", err)
	}
}

func TestResolveInFollowsLinksInsideRoot(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "usr/lib/x"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "usr/lib/x/libz.so.1.2"), []byte("z"), 0o644))
	must(t, os.Symlink("usr/lib", filepath.Join(root, "lib")))                            // relative, merged-usr style
	must(t, os.Symlink("/lib/x/libz.so.1.2", filepath.Join(root, "usr/lib/x/libz.so.1"))) // absolute: must stay in root
	got, err := resolveIn(root, "/lib/x/libz.so.1")
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(root, "usr/lib/x/libz.so.1.2") {
		t.Fatalf("resolved to %s", got)
	}
	must(t, os.Symlink("loop", filepath.Join(root, "loop")))
	if _, err := resolveIn(root, "/loop"); err == nil {
		t.Fatal("symlink loop not detected")
	}
}

// copyWithLibs on this machine's own root: a dynamically linked binary arrives with libc and its loader.
func TestCopyWithLibsBringsSharedLibraries(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ls"); err != nil {
		t.Skip("no /usr/bin/ls on this machine")
	}
	dst := t.TempDir()
	if err := copyWithLibs("/", dst, "/usr/bin/ls"); err != nil {
		t.Fatal(err)
	}
	var haveLibc, haveLoader bool
	_ = filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(filepath.Base(p), "libc.so") {
			haveLibc = true
		}
		if err == nil && strings.HasPrefix(filepath.Base(p), "ld-linux") {
			haveLoader = true
		}
		return nil
	})
	if !haveLibc || !haveLoader {
		t.Fatalf("libc copied: %v, loader copied: %v", haveLibc, haveLoader)
	}
}

func TestCRIBaseSpecAddsKindHookAndDropsRlimits(t *testing.T) {
	in := `{"process":{"rlimits":[{"type":"RLIMIT_NOFILE"}],"args":["sh"]},"hooks":{"createContainer":[{"path":"/a"}]}}`
	out, err := criBaseSpec([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Process map[string]any `json:"process"`
		Hooks   struct {
			CreateContainer []struct{ Path string } `json:"createContainer"`
		} `json:"hooks"`
	}
	must(t, json.Unmarshal(out, &spec))
	if _, ok := spec.Process["rlimits"]; ok {
		t.Fatal("rlimits kept")
	}
	if n := len(spec.Hooks.CreateContainer); n != 2 || spec.Hooks.CreateContainer[1].Path != "/kind/bin/mount-product-files.sh" {
		t.Fatalf("hooks: %+v", spec.Hooks.CreateContainer)
	}
}

// The node image copies kind's node files from KindVersion; it must be the kind the harness links (go.mod).
func TestKindVersionMatchesGoMod(t *testing.T) {
	for _, line := range strings.Split(meshconform.GoMod, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "sigs.k8s.io/kind" {
			if f[1] != KindVersion {
				t.Fatalf("go.mod has kind %s, images.KindVersion is %s", f[1], KindVersion)
			}
			return
		}
	}
	t.Fatal("sigs.k8s.io/kind not required in go.mod")
}

func TestFixtureModuleHoldsSourcesAndModuleFiles(t *testing.T) {
	files, err := fixtureModule("cni", "pause")()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.mod", "go.sum", "fixtures/cni/main.go", "fixtures/pause/main.go"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("fixture module lacks %s (has %d files)", want, len(files))
		}
	}
	if _, ok := files["fixtures/workload/main.go"]; ok {
		t.Fatal("node fixtures carry the workload: a workload change would rebuild the node image")
	}
	for p := range files {
		if strings.HasSuffix(p, "_test.go") {
			t.Fatalf("fixture module carries a test file %s", p)
		}
	}
}

func TestEveryBuildModuleIsEmbedded(t *testing.T) {
	for name, a := range registry {
		if !strings.HasPrefix(name, "bin-") || name == "bin-node-fixtures" || name == "bin-workload" {
			continue
		}
		mod := strings.TrimPrefix(name, "bin-")
		for _, ext := range []string{".mod", ".sum"} {
			if _, err := modulesFS.ReadFile("modules/" + mod + ext); err != nil {
				t.Fatalf("%s: %v", a.name, err)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// MissingTools names a tool only for what Ensure would build: an up-to-date artifact needs none, nor its dependencies.
func TestMissingToolsCountsOnlyWhatWouldBuild(t *testing.T) {
	installed := map[string]bool{"present-tool": true}
	saved := haveTool
	haveTool = func(c string) bool { return installed[c] }
	defer func() { haveTool = saved }()
	state := map[string]bool{}
	reg := func(name string, present bool, tool string, deps ...string) {
		state[name] = present
		a := &artifact{name: name, title: name, deps: deps, stamp: func(*Kit) string { return name },
			present: func(context.Context, *Kit, string) bool { return state[name] }}
		if tool != "" {
			a.tools = []hostTool{{command: tool, pkg: tool + "-pkg"}}
		}
		register(a)
		t.Cleanup(func() { delete(registry, name) })
	}
	reg("tt-leaf-built", true, "leaf-tool")          // built: its tool is not needed
	reg("tt-leaf-missing", false, "missing-tool")    // not built, tool missing
	reg("tt-leaf-installed", false, "present-tool")  // not built, tool installed
	reg("tt-top-built", true, "", "tt-leaf-missing") // built: its missing dependency is never looked at
	reg("tt-top", false, "", "tt-leaf-built", "tt-leaf-missing", "tt-leaf-installed")
	k, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"tt-top"}, "missing-tool-pkg"},
		{[]string{"tt-top-built"}, ""},
		{[]string{"tt-leaf-built"}, ""},
		{[]string{"tt-leaf-installed"}, ""},
		{[]string{"tt-top", "tt-leaf-missing"}, "missing-tool-pkg"},
	} {
		got, err := k.MissingTools(ctx, c.names...)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("MissingTools(%v) = %v, %v; want %q", c.names, got, err, c.want)
		}
	}
	state["tt-leaf-missing"] = true // once built, nothing is missing
	if got, _ := k.MissingTools(ctx, "tt-top"); len(got) != 0 {
		t.Errorf("after the leaf was built: %v", got)
	}
	if _, err := k.MissingTools(ctx, "no-such-artifact"); err == nil {
		t.Error("an unknown artifact is not an error")
	}

	// The real kit: the node image needs debootstrap (its root filesystem) when it is to be built; MetalLB's
	// manifest and the Istio images need no host tool.
	k, err = New(Options{CacheDir: t.TempDir(), Force: []string{"node"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.MissingTools(ctx, "node"); err != nil || strings.Join(got, " ") != "debootstrap" {
		t.Errorf("node with an empty cache and no debootstrap: %v, %v", got, err)
	}
	if got, err := k.MissingTools(ctx, "metallb-manifest", "istio", "workload"); err != nil || len(got) != 0 {
		t.Errorf("upstream mode's artifacts: %v, %v", got, err)
	}
	installed["debootstrap"] = true
	if got, _ := k.MissingTools(ctx, "node"); len(got) != 0 {
		t.Errorf("debootstrap installed: %v", got)
	}
}
