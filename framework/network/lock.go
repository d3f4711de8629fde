package network

import (
	"context"
	"os"
	"path/filepath"

	"github.com/meshconform/meshconform/framework/env"
)

// hostLockPath is shared by every meshconform process on the machine (one docker engine's networks).
func hostLockPath() string {
	if fi, err := os.Stat("/run/lock"); err == nil && fi.IsDir() {
		return "/run/lock/meshconform-networks.lock"
	}
	return filepath.Join(os.TempDir(), "meshconform-networks.lock")
}

// LockHost serializes choosing subnets and creating networks across every meshconform process on the machine: without
// it two environments coming up together list the same free /24 and one of them fails (or, on an engine that does not
// check overlaps, both get it).
func LockHost(ctx context.Context, waiting func(string)) (func(), error) {
	return env.Lock(ctx, hostLockPath(), "the machine's network plan", waiting)
}
