package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hasher builds content stamps from named parts, so two inputs can never run together into one.
type hasher struct{ h [][]byte }

func newHasher(parts ...string) *hasher {
	x := &hasher{}
	x.add(parts...)
	return x
}

func (x *hasher) add(parts ...string) {
	for _, p := range parts {
		x.h = append(x.h, []byte(p))
	}
}

func (x *hasher) sum() string {
	s := sha256.New()
	for _, p := range x.h {
		fmt.Fprintf(s, "%d:", len(p))
		s.Write(p)
	}
	return hex.EncodeToString(s.Sum(nil))
}

// run executes a command, sending its output to log; the error carries the command line and the output's tail.
func run(ctx context.Context, log io.Writer, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var tail tailBuffer
	w := io.MultiWriter(log, &tail)
	cmd.Stdout, cmd.Stderr = w, w
	fmt.Fprintf(log, "$ %s %s\n", name, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", name, firstArgs(args), ctx.Err())
		}
		return fmt.Errorf("%s %s: %w: %s", name, firstArgs(args), err, tail.String())
	}
	return nil
}

// output executes a command and returns its stdout; stderr goes to log.
func output(ctx context.Context, log io.Writer, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	var tail tailBuffer
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(log, &tail)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s %s: %w", name, firstArgs(args), ctx.Err())
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, firstArgs(args), err, tail.String())
	}
	return out.String(), nil
}

func firstArgs(args []string) string {
	if len(args) > 3 {
		return strings.Join(args[:3], " ") + " ..."
	}
	return strings.Join(args, " ")
}

// tailBuffer keeps the last few hundred bytes of a command's output for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 600 {
		t.b = t.b[len(t.b)-600:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// writeFiles writes path→content pairs under root, creating directories.
func writeFiles(root string, files map[string]string, mode os.FileMode) error {
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// stampFile records the stamp an output directory or file was built with.
func stampFile(path string) string { return path + ".stamp" }

func fileStampMatches(path, stamp string) bool {
	b, err := os.ReadFile(stampFile(path))
	if err != nil || strings.TrimSpace(string(b)) != stamp {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

func writeStamp(path, stamp string) error {
	return os.WriteFile(stampFile(path), []byte(stamp+"\n"), 0o644)
}
