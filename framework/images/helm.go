package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HelmVersion is the helm release the kit builds (bin-helm) for --installer helm.
const HelmVersion = "v3.22.0"

func init() {
	// Not public: `images build` builds it only when named (`images build bin-helm`) or when the helm installer
	// needs it; no image carries it.
	binArtifact(goModule{name: "helm", ldflags: "-X helm.sh/helm/v3/internal/version.version=" + HelmVersion,
		packages: []string{"helm.sh/helm/v3/cmd/helm"}}, "helm "+HelmVersion+" (installs Istio's charts with --installer helm)")
}

// HelmArtifact names the kit's helm build.
const HelmArtifact = "bin-helm"

// Helm is the path of the helm the kit builds (after Ensure(ctx, HelmArtifact)).
func (k *Kit) Helm() string { return k.bin("helm", "helm") }

// KitHelm is where a kit with this cache directory puts helm (it may not be built).
func KitHelm(cacheDir string) string { return filepath.Join(cacheDir, "bin", "helm", "helm") }

// IstioCharts returns manifests/charts of the istio.io/istio module whose images and istioctl the kit builds, so
// the helm installer installs the same Istio the istioctl one does. It downloads the module when it is missing.
func IstioCharts(ctx context.Context) (string, error) {
	if dir := CachedIstioCharts(); dir != "" {
		return dir, nil
	}
	dir, err := moduleDir(ctx, "istio.io/istio", IstioModuleVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "manifests", "charts"), nil
}

// CachedIstioCharts is IstioCharts without downloading: "" when the module is not in the Go module cache.
func CachedIstioCharts() string {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command(goBinary(), "env", "GOMODCACHE").Output()
		if err != nil {
			return ""
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, "istio.io", "istio@"+IstioModuleVersion, "manifests", "charts")
	if _, err := os.Stat(filepath.Join(dir, "base", "Chart.yaml")); err != nil {
		return ""
	}
	return dir
}
