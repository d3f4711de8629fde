package render

import (
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// goldenEnv is the environment name the objects' golden files are rendered for.
const goldenEnv = "golden"

// renderObjects renders the Kubernetes objects Install applies itself (not through the installer), keyed by file.
func renderObjects(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for file, obj := range map[string]any{
		"cross-network-gateway.yaml": CrossNetworkGateway(goldenEnv),
		"istiod-gateway.yaml":        IstiodGateway(goldenEnv),
		"istiod-virtualservice.yaml": IstiodVirtualService(goldenEnv, ""),
		"istiod-remote-lb.yaml":      IstiodLoadBalancer(goldenEnv, ""),
	} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		out[file] = b
	}
	return out
}

func TestRenderedObjectsMatchGoldenFiles(t *testing.T) {
	matchGoldenDir(t, filepath.Join("testdata", "objects"), renderObjects(t))
}
