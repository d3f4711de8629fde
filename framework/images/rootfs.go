package images

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

const debianSuite = "bookworm"

// nodePackages is what a kind node needs from Debian; containerd and runc come from Debian too (kind builds its own).
var nodePackages = []string{
	"systemd", "systemd-sysv", "dbus", "iptables", "nftables", "iproute2", "containerd", "runc",
	"containernetworking-plugins", "ca-certificates", "procps", "mount", "kmod", "util-linux", "conntrack", "ethtool",
	"socat", "ebtables", "libseccomp2", "bash", "curl", "pigz", "jq", "e2fsprogs",
}

func init() {
	register(&artifact{
		name:  "rootfs",
		title: "Debian " + debianSuite + " root filesystem (debootstrap)",
		stamp: func(k *Kit) string {
			return newHasher("rootfs", debianSuite, "minbase", strings.Join(nodePackages, ","), k.opts.DebianMirror).sum()
		},
		present: func(_ context.Context, k *Kit, stamp string) bool { return fileStampMatches(k.rootfsDir(), stamp) },
		build:   buildRootfs,
		tools:   []hostTool{debootstrap},
	})
}

func (k *Kit) rootfsDir() string { return filepath.Join(k.opts.CacheDir, "rootfs", debianSuite) }

var debootstrap = hostTool{command: "debootstrap", pkg: "debootstrap"}

func buildRootfs(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("debootstrap needs root: run this command as root (sudo)")
	}
	if !haveTool(debootstrap.command) {
		return fmt.Errorf("the offline node image's Debian root filesystem is made with debootstrap, which is not "+
			"installed: %s (or use a machine that reaches registry.k8s.io, where the kit's node image is not needed)",
			AptInstall(debootstrap.pkg))
	}
	dir := k.rootfsDir()
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := run(ctx, log, "", nil, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(nodePackages, ","), debianSuite, tmp, k.opts.DebianMirror); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	// apt lists and the package cache are half of minbase's size and no image needs them.
	for _, p := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		_ = os.RemoveAll(filepath.Join(tmp, p))
		_ = os.MkdirAll(filepath.Join(tmp, p), 0o755)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return writeStamp(dir, stamp)
}

// resolveIn resolves p inside root, following symlinks (absolute ones relative to root), and returns the host path.
func resolveIn(root, p string) (string, error) {
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	for hops := 0; len(rest) > 0; {
		part := rest[0]
		rest = rest[1:]
		if part == "" || part == "." {
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many symlinks", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), rest...)
		cur = "/"
	}
	return filepath.Join(root, cur), nil
}

var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", "/lib64"}

// copyWithLibs copies binaries (paths inside root) into dst at the same paths, with every shared library they need
// (DT_NEEDED, transitively) and their ELF interpreter, so they run in an image with no distribution underneath.
func copyWithLibs(root, dst string, binaries ...string) error {
	seen := map[string]bool{}
	var visit func(p string) error
	visit = func(p string) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		src, err := resolveIn(root, p)
		if err != nil {
			return fmt.Errorf("find %s in rootfs: %w", p, err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(dst, p), fi.Mode().Perm()); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
		f, err := elf.Open(src)
		if err != nil {
			return nil // not ELF (a script or data file): nothing more to follow
		}
		defer f.Close()
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				b, _ := io.ReadAll(prog.Open())
				if err := visit(strings.TrimRight(string(b), "\x00")); err != nil {
					return err
				}
			}
		}
		libs, _ := f.ImportedLibraries()
		for _, lib := range libs {
			found := ""
			for _, d := range libDirs {
				if _, err := resolveIn(root, path.Join(d, lib)); err == nil {
					found = path.Join(d, lib)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, not found in rootfs", p, lib)
			}
			if err := visit(found); err != nil {
				return err
			}
		}
		return nil
	}
	for _, b := range binaries {
		if err := visit(b); err != nil {
			return err
		}
	}
	return nil
}

// baseFiles are what a static binary expects around it: users, /tmp, CA roots, a PATH.
func baseFiles(dir, caBundle string) error {
	files := map[string]string{
		"etc/passwd":        "root:x:0:0:root:/root:/sbin/nologin\nistio-proxy:x:1337:1337::/home/istio-proxy:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		"etc/group":         "root:x:0:\nistio-proxy:x:1337:\nnogroup:x:65534:\n",
		"etc/nsswitch.conf": "hosts: files dns\n",
	}
	if err := writeFiles(dir, files, 0o644); err != nil {
		return err
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o1777); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o1777|os.ModeSticky); err != nil {
			return err
		}
	}
	if caBundle != "" {
		if err := copyFile(caBundle, filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"), 0o644); err != nil {
			return fmt.Errorf("copy CA bundle: %w", err)
		}
	}
	return nil
}

// staticImage imports an image made of base files plus binaries placed at the given paths.
func staticImage(ctx context.Context, log io.Writer, work string, bins map[string]string, spec imageSpec, stamp string) error {
	dir, err := os.MkdirTemp(work, "img-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		ca = ""
	}
	if err := baseFiles(dir, ca); err != nil {
		return err
	}
	for dst, src := range bins {
		if err := copyFile(src, filepath.Join(dir, dst), 0o755); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	return importDir(ctx, log, dir, spec, stamp)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
