package images

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The build modules pin every source we compile. They are stored as .mod/.sum, not go.mod/go.sum, because go:embed
// refuses a directory that holds a go.mod (it would be another module).
//
//go:embed modules
var modulesFS embed.FS

// goModule is a throwaway main module that requires a pinned upstream module and builds its commands.
type goModule struct {
	name     string
	files    map[string]string // extra files (e.g. a main.go wrapping a library's entry point)
	env      []string
	ldflags  string
	packages []string
	// source, when set, supplies go.mod/go.sum and sources instead of modules/<name>.{mod,sum}.
	source func() (map[string]string, error)
}

func (m goModule) moduleFiles() (map[string]string, error) {
	if m.source != nil {
		return m.source()
	}
	mod, err := modulesFS.ReadFile("modules/" + m.name + ".mod")
	if err != nil {
		return nil, err
	}
	sum, err := modulesFS.ReadFile("modules/" + m.name + ".sum")
	if err != nil {
		return nil, err
	}
	files := map[string]string{"go.mod": string(mod), "go.sum": string(sum)}
	for p, c := range m.files {
		files[p] = c
	}
	return files, nil
}

func (m goModule) stamp() string {
	h := newHasher("gomodule", m.name, m.ldflags, strings.Join(m.packages, " "), strings.Join(m.env, " "), goVersion())
	files, err := m.moduleFiles()
	if err != nil {
		h.add("error", err.Error())
	}
	for _, p := range sortedKeys(files) {
		h.add(p, files[p])
	}
	return h.sum()
}

// binArtifact registers an artifact that compiles a goModule into CacheDir/bin/<name>/.
func binArtifact(m goModule, title string) {
	register(&artifact{
		name:  "bin-" + m.name,
		title: title,
		stamp: func(*Kit) string { return m.stamp() },
		present: func(_ context.Context, k *Kit, stamp string) bool {
			return fileStampMatches(k.binDir(m.name), stamp)
		},
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			return k.goBuildModule(ctx, log, m, stamp)
		},
		cpuBound: true,
	})
}

func (k *Kit) binDir(name string) string { return filepath.Join(k.opts.CacheDir, "bin", name) }

// bin returns the path of a binary built by binArtifact.
func (k *Kit) bin(module, binary string) string { return filepath.Join(k.binDir(module), binary) }

func (k *Kit) goBuildModule(ctx context.Context, log io.Writer, m goModule, stamp string) error {
	files, err := m.moduleFiles()
	if err != nil {
		return fmt.Errorf("read build module %s: %w", m.name, err)
	}
	dir := filepath.Join(k.opts.CacheDir, "build", m.name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := writeFiles(dir, files, 0o644); err != nil {
		return fmt.Errorf("write build module: %w", err)
	}
	out := k.binDir(m.name)
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	env := append([]string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off"}, m.env...)
	args := []string{"build", "-trimpath", "-ldflags", "-s -w " + m.ldflags, "-o", out + "/"}
	args = append(args, m.packages...)
	if err := run(ctx, log, dir, env, goBinary(), args...); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return writeStamp(out, stamp)
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

var goVersionCache string

// goVersion is part of every Go artifact's stamp: another toolchain makes other binaries.
func goVersion() string {
	if goVersionCache == "" {
		out, err := exec.Command(goBinary(), "env", "GOVERSION").Output()
		if err != nil {
			goVersionCache = "unknown"
		} else {
			goVersionCache = strings.TrimSpace(string(out))
		}
	}
	return goVersionCache
}

// moduleDir downloads (if needed) a pinned module and returns its directory in the module cache.
func moduleDir(ctx context.Context, module, version string) (string, error) {
	cmd := exec.CommandContext(ctx, goBinary(), "mod", "download", "-json", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return info.Dir, nil
}
