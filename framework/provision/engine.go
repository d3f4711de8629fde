package provision

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
)

// engine asks the container engine the clusters will run on (the one DOCKER_HOST or the docker context names) for
// its version, so the environment says which engine it was proven on.
func engine(ctx context.Context) (*env.Engine, error) {
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Output()
	if err != nil {
		detail := ""
		if ee, ok := err.(*exec.ExitError); ok {
			detail = ": " + strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("docker version%s: %w (is the docker engine running and reachable?)", detail, err)
	}
	return &env.Engine{Version: strings.TrimSpace(string(out)), Host: os.Getenv("DOCKER_HOST")}, nil
}
