package images

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
)

// EnvoyLabel is the label with which the kit's proxyv2 image says it has no Envoy: its value starts with
// EnvoyAbsent and says why.
const (
	EnvoyLabel  = "io.meshconform.envoy"
	EnvoyAbsent = "absent"
)

// proxyEnvoyLabel is the value the kit's proxyv2 carries (unchanged since the first kit: the label is not stamped).
const proxyEnvoyLabel = EnvoyAbsent + ": Envoy is in no reachable registry; only the proxyless gRPC data plane works"

// EnvoyAbsentIn says whether an image's labels record that it has no Envoy, and the record.
func EnvoyAbsentIn(labels map[string]string) (string, bool) {
	v := strings.TrimSpace(labels[EnvoyLabel])
	return v, v == EnvoyAbsent || strings.HasPrefix(v, EnvoyAbsent+":")
}

// LocalImageLabels reads an image's labels from the docker engine meshconform uses (DOCKER_HOST or the default
// context); ok is false when the engine does not have the image (or cannot be asked).
func LocalImageLabels(ctx context.Context, ref string) (labels map[string]string, ok bool) {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref).Output()
	if err != nil {
		return nil, false
	}
	if err := json.Unmarshal(out, &labels); err != nil {
		return nil, false
	}
	return labels, true
}
