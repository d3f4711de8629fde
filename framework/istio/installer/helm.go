package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/render"
	"sigs.k8s.io/yaml"
)

// HelmCharts are the chart directories of Istio's base, istiod (istio-discovery) and gateway charts.
type HelmCharts struct {
	Base, Istiod, Gateway string
}

// Dir returns the directory of a chart key.
func (c HelmCharts) Dir(chart string) string {
	switch chart {
	case render.ChartBase:
		return c.Base
	case render.ChartIstiod:
		return c.Istiod
	case render.ChartGateway:
		return c.Gateway
	}
	return ""
}

// chartCandidates are where each chart is looked for under --charts: a chart repository's names (helm pull --untar)
// first, then the layout of manifests/charts in Istio's source tree.
var chartCandidates = []struct {
	key   string
	paths []string
}{
	{render.ChartBase, []string{"base"}},
	{render.ChartIstiod, []string{"istiod", "istio-control/istio-discovery", "istio-discovery"}},
	{render.ChartGateway, []string{"gateway"}},
}

// chartsFix says what --charts must hold; every chart lookup error ends with it.
const chartsFix = "--charts must name a directory holding Istio's base, istiod and gateway charts: manifests/charts " +
	"of an Istio source tree or module (istio-control/istio-discovery is the istiod chart), or the directory where " +
	"`helm pull istio/base istio/istiod istio/gateway --untar` unpacked them"

// FindHelmCharts locates the three charts under dir. dir may also be an Istio source root (its manifests/charts) or
// manifests/ (its charts/).
func FindHelmCharts(dir string) (HelmCharts, error) {
	if dir == "" {
		return HelmCharts{}, errors.New("no chart directory given (--charts DIR): " + chartsFix)
	}
	if fi, err := os.Stat(dir); err != nil {
		return HelmCharts{}, fmt.Errorf("--charts %s: %w", dir, err)
	} else if !fi.IsDir() {
		return HelmCharts{}, fmt.Errorf("--charts %s is not a directory (unpack chart archives with `tar xzf` or "+
			"`helm pull --untar`): %s", dir, chartsFix)
	}
	if isChart(dir) {
		// A common slip: one chart instead of the directory holding all three.
		return HelmCharts{}, fmt.Errorf("--charts %s is a single chart, not the directory holding them: %s", dir, chartsFix)
	}
	for _, sub := range []string{filepath.Join("manifests", "charts"), "charts"} {
		if isChart(filepath.Join(dir, sub, "base")) {
			dir = filepath.Join(dir, sub)
			break
		}
	}
	var c HelmCharts
	var missing []string
	for _, cand := range chartCandidates {
		found := ""
		for _, p := range cand.paths {
			if d := filepath.Join(dir, p); isChart(d) {
				found = d
				break
			}
		}
		if found == "" {
			missing = append(missing, fmt.Sprintf("%s (looked for %s/Chart.yaml)", cand.key, strings.Join(cand.paths, "/Chart.yaml, ")))
			continue
		}
		switch cand.key {
		case render.ChartBase:
			c.Base = found
		case render.ChartIstiod:
			c.Istiod = found
		case render.ChartGateway:
			c.Gateway = found
		}
	}
	if len(missing) > 0 {
		return HelmCharts{}, fmt.Errorf("--charts %s lacks %s: %s", dir, strings.Join(missing, "; "), chartsFix)
	}
	return c, nil
}

func isChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

// ChartMeta is the part of a Chart.yaml meshconform reads.
type ChartMeta struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
}

// ReadChartMeta reads dir/Chart.yaml.
func ReadChartMeta(dir string) (ChartMeta, error) {
	var m ChartMeta
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return m, err
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse %s/Chart.yaml: %w", dir, err)
	}
	return m, nil
}

// devChartVersion is what Istio's charts say in its source tree; release-builder replaces it on release.
const devChartVersion = "1.0.0"

// helm runs a helm binary against Istio's charts.
type helm struct {
	bin     string
	charts  HelmCharts
	timeout time.Duration
}

// newHelm checks the binary and the charts; errors name the flag to fix.
func newHelm(opts Options, timeout time.Duration) (*helm, error) {
	if opts.Helm == "" {
		return nil, errors.New("helm installer: no helm binary given: pass --helm PATH (helm 3 or 4), put helm on PATH, " +
			"or build one with `meshconform images build bin-helm`")
	}
	if err := checkHelm(opts.Helm); err != nil {
		return nil, err
	}
	if opts.Charts == "" {
		return nil, errors.New("helm installer: no charts given: pass --charts DIR; " + chartsFix)
	}
	charts, err := FindHelmCharts(opts.Charts)
	if err != nil {
		return nil, fmt.Errorf("helm installer: %w", err)
	}
	return &helm{bin: opts.Helm, charts: charts, timeout: timeout}, nil
}

// checkHelm finds the helm binary, as a path or on PATH.
func checkHelm(bin string) error {
	if _, err := os.Stat(bin); err != nil {
		if _, lerr := exec.LookPath(bin); lerr != nil {
			return fmt.Errorf("helm installer: --helm %s: %w", bin, err)
		}
	}
	return nil
}

func (h *helm) Name() env.Installer { return env.InstallerHelm }

// Check finds the binary again (newHelm found it and the charts).
func (h *helm) Check() error { return checkHelm(h.bin) }

// Version is the istiod chart's appVersion, after checking the binary is helm 3 or 4 (the flags used here). Charts
// from Istio's source tree say 1.0.0 (release-builder stamps real versions): that is no version, so "" is
// returned and the running istiod tells.
func (h *helm) Version(ctx context.Context) (string, error) {
	out, err := h.run(ctx, "version", "--short")
	if err != nil {
		return "", fmt.Errorf("%s version --short: %w", h.bin, err)
	}
	v := strings.TrimSpace(string(out))
	if !strings.HasPrefix(v, "v3.") && !strings.HasPrefix(v, "v4.") {
		return "", fmt.Errorf("%s reports version %q: meshconform needs helm 3 or 4 (--helm PATH)", h.bin, v)
	}
	meta, err := ReadChartMeta(h.charts.Istiod)
	if err != nil {
		return "", fmt.Errorf("istiod chart: %w", err)
	}
	if meta.AppVersion == devChartVersion && meta.Version == devChartVersion {
		return "", nil
	}
	return meta.AppVersion, nil
}

func (h *helm) Install(ctx context.Context, t Target, op *render.IstioOperator, file string) error {
	return h.apply(ctx, t, op, file)
}

// InstallGateway installs the gateway chart without --wait: its pods may never run where no Envoy image exists.
func (h *helm) InstallGateway(ctx context.Context, t Target, op *render.IstioOperator, file string) error {
	return h.apply(ctx, t, op, file)
}

func (h *helm) Verify(ctx context.Context, t Target, primary bool, rev string) (string, error) {
	return verifyControlPlane(ctx, t.Client, primary, rev)
}

// apply writes each release's values next to file and runs `helm upgrade --install` for it, in order (base's CRDs
// before istiod). upgrade --install converges: re-running `up` upgrades releases in place.
func (h *helm) apply(ctx context.Context, t Target, op *render.IstioOperator, file string) error {
	releases, err := render.HelmReleases(op)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	for _, r := range releases {
		b, err := r.ValuesYAML()
		if err != nil {
			return err
		}
		vf := render.HelmValuesFile(file, r)
		if err := os.WriteFile(vf, b, 0o644); err != nil {
			return fmt.Errorf("%s: write helm values: %w", t.Name, err)
		}
		args := h.upgradeArgs(t, r, vf)
		if _, err := h.run(ctx, args...); err != nil {
			return fmt.Errorf("%s: helm %s: %w%s", t.Name, strings.Join(args[:3], " "), err, helmHint(err, t, r))
		}
	}
	return nil
}

// upgradeArgs is the `helm upgrade --install` of one release.
func (h *helm) upgradeArgs(t Target, r render.HelmRelease, valuesFile string) []string {
	args := []string{"upgrade", "--install", r.Name, h.charts.Dir(r.Chart), "--namespace", render.Namespace, "-f", valuesFile}
	if r.Wait {
		args = append(args, "--wait", "--timeout", h.timeout.String())
	}
	args = append(args, "--kubeconfig", t.Kubeconfig)
	if t.Context != "" {
		args = append(args, "--kube-context", t.Context)
	}
	return args
}

// helmHint names the fix of the helm failures a re-run or a previous installer leaves behind.
func helmHint(err error, t Target, r render.HelmRelease) string {
	msg := err.Error()
	ctx := ""
	if t.Context != "" {
		ctx = " --kube-context " + t.Context
	}
	switch {
	case strings.Contains(msg, "invalid ownership metadata") || strings.Contains(msg, "cannot be imported into the current release"):
		return fmt.Sprintf("\n  the cluster holds Istio objects that helm release %s does not own (installed by istioctl?): "+
			"remove that installation first (`meshconform down` and `up` again, or `istioctl uninstall --purge`)", r.Name)
	case strings.Contains(msg, "another operation (install/upgrade/rollback) is in progress"):
		return fmt.Sprintf("\n  an earlier helm run on release %s was interrupted: `helm --kubeconfig %s%s -n %s rollback %s` "+
			"(or `uninstall %s`), then run `meshconform up` again", r.Name, t.Kubeconfig, ctx, render.Namespace, r.Name, r.Name)
	}
	return ""
}

// run executes helm and returns stdout; a failure carries the tail of its output. On cancellation helm gets an
// interrupt first, so it can mark the release failed instead of leaving it pending.
func (h *helm) run(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		// Even when helm exited 0 on the interrupt, its work is not done.
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, tail(stderr.String()+stdout.String(), 20))
	}
	return stdout.Bytes(), nil
}
