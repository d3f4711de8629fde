package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lock holds an exclusive flock on path (created 0600) until its release function is called; the lock also ends with
// the process, so a killed command never leaves a stale lock. While another process holds it, Lock waits, saying
// once who holds it (the pid written in the file), until ctx ends.
func Lock(ctx context.Context, path, what string, waiting func(string)) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s (%s): %w", what, path, err)
		}
		if !said && waiting != nil {
			b, _ := os.ReadFile(path)
			holder := strings.TrimSpace(string(b))
			if holder == "" {
				holder = "another process"
			} else {
				holder = "pid " + holder
			}
			waiting(fmt.Sprintf("waiting for %s: %s holds its lock (%s)", what, holder, path))
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// LockDir takes the state directory's lock: two commands on one environment (an `up` and a `down`, two `test`s
// writing one report) never interleave.
func LockDir(ctx context.Context, dir string, waiting func(string)) (func(), error) {
	return Lock(ctx, filepath.Join(dir, ".lock"), "environment in "+dir, waiting)
}
