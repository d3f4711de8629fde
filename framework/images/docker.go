package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// imageStamp returns the stamp label of a local image, or "" when the image is absent.
func imageStamp(ctx context.Context, ref string) string {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format",
		fmt.Sprintf(`{{ index .Config.Labels %q }}`, StampLabel), ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func imagesPresent(refs ...string) func(ctx context.Context, k *Kit, stamp string) bool {
	return func(ctx context.Context, k *Kit, stamp string) bool {
		for _, r := range refs {
			if imageStamp(ctx, r) != stamp {
				return false
			}
		}
		return true
	}
}

// imageSpec describes an image made by importing a root filesystem.
type imageSpec struct {
	Ref        string
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkDir    string
	Labels     map[string]string
}

func (s imageSpec) changes(stamp string) []string {
	var c []string
	if len(s.Entrypoint) > 0 {
		c = append(c, "ENTRYPOINT "+jsonArray(s.Entrypoint))
	}
	if len(s.Cmd) > 0 {
		c = append(c, "CMD "+jsonArray(s.Cmd))
	}
	for _, e := range s.Env {
		c = append(c, "ENV "+e)
	}
	if s.User != "" {
		c = append(c, "USER "+s.User)
	}
	if s.WorkDir != "" {
		c = append(c, "WORKDIR "+s.WorkDir)
	}
	labels := map[string]string{StampLabel: stamp, "io.meshconform.built-by": "meshconform images build"}
	for k, v := range s.Labels {
		labels[k] = v
	}
	for k, v := range labels {
		c = append(c, fmt.Sprintf("LABEL %s=%q", k, v))
	}
	return c
}

func jsonArray(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// imageID returns a local image's ID, or "" when absent.
func imageID(ctx context.Context, ref string) string {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// replacing runs build, which retags ref, then removes the image ref named before (a node image is 1 GB; superseded
// ones would fill the disk). Removal fails harmlessly while a container still uses the old image.
func replacing(ctx context.Context, log io.Writer, ref string, build func() error) error {
	old := imageID(ctx, ref)
	if err := build(); err != nil {
		return err
	}
	if now := imageID(ctx, ref); old != "" && now != old {
		_ = run(ctx, log, "", nil, "docker", "rmi", old)
	}
	return nil
}

// importDir streams dir as a tar (owned by root, modes kept) into `docker import`.
func importDir(ctx context.Context, log io.Writer, dir string, spec imageSpec, stamp string) error {
	return replacing(ctx, log, spec.Ref, func() error { return importDirAs(ctx, log, dir, spec, stamp) })
}

func importDirAs(ctx context.Context, log io.Writer, dir string, spec imageSpec, stamp string) error {
	args := []string{"import"}
	for _, c := range spec.changes(stamp) {
		args = append(args, "--change", c)
	}
	args = append(args, "-", spec.Ref)
	cmd := exec.CommandContext(ctx, "docker", args...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = io.MultiWriter(log, &tail)
	fmt.Fprintf(log, "$ docker import %s (from %s)\n", spec.Ref, dir)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("docker import %s: %w", spec.Ref, err)
	}
	werr := writeTar(pw, dir)
	pw.CloseWithError(werr)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker import %s: %w: %s", spec.Ref, err, tail.String())
	}
	if werr != nil {
		return fmt.Errorf("tar %s: %w", dir, werr)
	}
	return nil
}

// writeTar writes dir as a tar with root ownership; symlinks are kept as links.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
