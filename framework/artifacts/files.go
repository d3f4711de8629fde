package artifacts

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Artifacts hold what the rest of the state holds (pod specs carry env values, logs carry whatever programs print),
// so they get the state's modes: files 0600, directories 0700, whoever wrote them (kind's log export included) and
// whatever the umask or an earlier run left behind.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// mkdirPrivate creates dir (and its parents) 0700, and makes dir itself 0700 if it existed.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	return os.Chmod(dir, dirMode)
}

// writePrivate writes a file 0600, also when it existed with another mode.
func writePrivate(p string, b []byte) error {
	if err := os.WriteFile(p, b, fileMode); err != nil {
		return err
	}
	return os.Chmod(p, fileMode)
}

// privatize walks a tree written by someone else (kind's log export): directories become 0700, regular files 0600
// and, when redact is set, their private keys are redacted. Symbolic links are neither followed nor changed (a
// chmod would change their target, which may lie outside the tree). It returns the first error and goes on.
func privatize(root string, redact bool) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			keep(err)
			if d != nil && d.IsDir() {
				// A directory that cannot be read: make it private anyway, skip its contents.
				keep(os.Chmod(p, dirMode))
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			keep(os.Chmod(p, dirMode))
		case d.Type().IsRegular():
			keep(os.Chmod(p, fileMode))
			if redact {
				keep(redactFile(p))
			}
		}
		return nil
	})
	keep(err)
	return first
}

// redactFile rewrites a file with its private keys redacted, if it holds any.
func redactFile(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	r := RedactPrivateKeys(b)
	if len(r) == len(b) && string(r) == string(b) {
		return nil
	}
	return writePrivate(p, r)
}
