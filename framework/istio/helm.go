package istio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"sigs.k8s.io/yaml"
)

// Helm release names: the ones of Istio's Helm install and multicluster guides, so `helm list` reads like the docs.
const (
	HelmReleaseBase     = "istio-base"
	HelmReleaseIstiod   = "istiod"
	HelmReleaseEastWest = EastWestGatewayName
)

// Chart keys of HelmCharts.
const (
	ChartBase    = "base"
	ChartIstiod  = "istiod"
	ChartGateway = "gateway"
)

// HelmCharts are the chart directories of Istio's base, istiod (istio-discovery) and gateway charts.
type HelmCharts struct {
	Base, Istiod, Gateway string
}

// Dir returns the directory of a chart key.
func (c HelmCharts) Dir(chart string) string {
	switch chart {
	case ChartBase:
		return c.Base
	case ChartIstiod:
		return c.Istiod
	case ChartGateway:
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
	{ChartBase, []string{"base"}},
	{ChartIstiod, []string{"istiod", "istio-control/istio-discovery", "istio-discovery"}},
	{ChartGateway, []string{"gateway"}},
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
		case ChartBase:
			c.Base = found
		case ChartIstiod:
			c.Istiod = found
		case ChartGateway:
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

// HelmRelease is one `helm upgrade --install` meshconform runs.
type HelmRelease struct {
	// Name is the release name; Chart a HelmCharts key.
	Name, Chart string
	Values      map[string]any
	// Wait: helm waits for the release's resources (not for gateways, whose pods may never run here).
	Wait bool
}

// HelmReleases translates an IstioOperator into the releases of Istio's charts that install the same thing, the way
// Istio's Helm multicluster guides do: a control plane becomes the base chart and the istiod chart (profile remote
// on a remote: no istiod, only the injection webhook and a Service for remotePilotAddress); the east-west gateway
// becomes the gateway chart with networkGateway set, which gives the network label, the requested network view and
// the ports 15021, 15443, 15012 and 15017.
//
// Everything in spec.values is passed on unchanged (IstioOperator values are the charts' values, as istioctl
// renders them); spec.hub and spec.tag become global.hub and global.tag, spec.meshConfig becomes meshConfig.
func HelmReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op == nil {
		return nil, errors.New("helm: no IstioOperator to translate")
	}
	switch op.Spec.Profile {
	case profileMinimal, profileRemote:
		return controlPlaneReleases(op)
	case profileEmpty:
		return gatewayReleases(op)
	}
	return nil, fmt.Errorf("helm: IstioOperator %s has profile %q, which meshconform does not translate to charts "+
		"(minimal, remote or empty)", op.Metadata.Name, op.Spec.Profile)
}

func controlPlaneReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op.Spec.Components != nil && len(op.Spec.Components.IngressGateways) > 0 {
		return nil, fmt.Errorf("helm: IstioOperator %s: gateways belong in their own IstioOperator", op.Metadata.Name)
	}
	values, err := toMap(op.Spec.Values)
	if err != nil {
		return nil, err
	}
	if _, ok := values["gateways"]; ok {
		return nil, fmt.Errorf("helm: IstioOperator %s: values.gateways has no meaning for the istiod chart", op.Metadata.Name)
	}
	// The istiod chart takes istiod's settings at its top level; IstioOperator nests them under values.pilot.
	if pilot, ok := values["pilot"].(map[string]any); ok {
		delete(values, "pilot")
		for k, v := range pilot {
			if _, clash := values[k]; clash {
				return nil, fmt.Errorf("helm: IstioOperator %s: values.pilot.%s and values.%s both set", op.Metadata.Name, k, k)
			}
			values[k] = v
		}
	}
	global, _ := values["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
	}
	if op.Spec.Hub != "" {
		global["hub"] = op.Spec.Hub
	}
	if op.Spec.Tag != "" {
		global["tag"] = op.Spec.Tag
	}
	if len(global) > 0 {
		values["global"] = global
	}
	if op.Spec.MeshConfig != nil {
		mc, err := toMap(op.Spec.MeshConfig)
		if err != nil {
			return nil, err
		}
		if len(mc) > 0 {
			values["meshConfig"] = mc
		}
	}
	base := map[string]any{}
	if op.Spec.Profile == profileRemote {
		// The remote profile is a values profile of both charts (istioctl's remote profile sets values.profile).
		values["profile"] = profileRemote
		base["profile"] = profileRemote
	}
	return []HelmRelease{
		{Name: HelmReleaseBase, Chart: ChartBase, Values: base, Wait: true},
		{Name: HelmReleaseIstiod, Chart: ChartIstiod, Values: values, Wait: true},
	}, nil
}

// networkGatewayPorts are the ports the gateway chart's Service gets when networkGateway is set.
var networkGatewayPorts = map[string]int32{"status-port": PortStatus, "tls": PortTLS, "tls-istiod": PortIstiodXDS, "tls-webhook": PortIstiodHook}

func gatewayReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op.Spec.Components == nil || len(op.Spec.Components.IngressGateways) != 1 {
		return nil, fmt.Errorf("helm: IstioOperator %s: the gateway chart installs exactly one gateway", op.Metadata.Name)
	}
	gw := op.Spec.Components.IngressGateways[0]
	if !gw.Enabled {
		return nil, nil
	}
	var network string
	if op.Spec.Values != nil && op.Spec.Values.Global != nil {
		network = op.Spec.Values.Global.Network
	}
	if network == "" || gw.Label[NetworkLabel] != network {
		return nil, fmt.Errorf("helm: gateway %s: label %s=%q and values.global.network=%q must name the same network",
			gw.Name, NetworkLabel, gw.Label[NetworkLabel], network)
	}
	labels := map[string]any{}
	for k, v := range gw.Label {
		// networkGateway writes the network label itself; a second one would be a duplicate key in the pod template.
		if k != NetworkLabel {
			labels[k] = v
		}
	}
	env := map[string]any{}
	if gw.K8s != nil {
		for _, e := range gw.K8s.Env {
			if e.Name == RequestedNetworkViewEnv {
				if e.Value != network {
					return nil, fmt.Errorf("helm: gateway %s: %s=%q, but the gateway chart sets it to its network %q",
						gw.Name, RequestedNetworkViewEnv, e.Value, network)
				}
				continue // networkGateway sets it
			}
			env[e.Name] = e.Value
		}
		if gw.K8s.Service != nil {
			if len(gw.K8s.Service.Ports) != len(networkGatewayPorts) {
				return nil, fmt.Errorf("helm: gateway %s: %d Service ports; the gateway chart's network gateway serves exactly %v",
					gw.Name, len(gw.K8s.Service.Ports), networkGatewayPorts)
			}
			for _, p := range gw.K8s.Service.Ports {
				if want, ok := networkGatewayPorts[p.Name]; !ok || want != p.Port || p.TargetPort != p.Port {
					return nil, fmt.Errorf("helm: gateway %s: port %s %d->%d is not one of the gateway chart's network gateway ports %v",
						gw.Name, p.Name, p.Port, p.TargetPort, networkGatewayPorts)
				}
			}
		}
	}
	values := map[string]any{
		"name":           gw.Name,
		"networkGateway": network,
		"labels":         labels,
		"service":        map[string]any{"type": "LoadBalancer"},
	}
	if len(env) > 0 {
		values["env"] = env
	}
	if v := op.Spec.Values; v != nil {
		if v.Global != nil && v.Global.ImagePullPolicy != "" {
			values["imagePullPolicy"] = v.Global.ImagePullPolicy
		}
		if v.Gateways != nil && v.Gateways.IstioIngressgateway != nil && v.Gateways.IstioIngressgateway.InjectionTemplate != "" {
			values["podAnnotations"] = map[string]any{"inject.istio.io/templates": v.Gateways.IstioIngressgateway.InjectionTemplate}
		}
	}
	return []HelmRelease{{Name: gw.Name, Chart: ChartGateway, Values: values}}, nil
}

// toMap turns a struct into its JSON object form (an empty map for nil).
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("helm values: %w", err)
	}
	m := map[string]any{}
	if string(b) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("helm values: %w", err)
	}
	return m, nil
}

// ValuesYAML renders a release's values file.
func (r HelmRelease) ValuesYAML() ([]byte, error) {
	b, err := yaml.Marshal(r.Values)
	if err != nil {
		return nil, fmt.Errorf("render values of helm release %s: %w", r.Name, err)
	}
	return append([]byte("# Written by meshconform: values of the "+r.Chart+" chart, release "+r.Name+".\n"), b...), nil
}

// HelmValuesFile is where a release's values go: next to the IstioOperator they were translated from.
func HelmValuesFile(operatorFile string, r HelmRelease) string {
	return strings.TrimSuffix(operatorFile, filepath.Ext(operatorFile)) + ".helm-" + r.Chart + ".yaml"
}

// helm runs a helm binary against Istio's charts.
type helm struct {
	bin     string
	charts  HelmCharts
	timeout time.Duration
}

// newHelm checks the binary and the charts; errors name the flag to fix.
func newHelm(opts Options) (*helm, error) {
	if opts.Helm == "" {
		return nil, errors.New("helm installer: no helm binary given: pass --helm PATH (helm 3 or 4), put helm on PATH, " +
			"or build one with `meshconform images build bin-helm`")
	}
	if _, err := os.Stat(opts.Helm); err != nil {
		if _, lerr := exec.LookPath(opts.Helm); lerr != nil {
			return nil, fmt.Errorf("helm installer: --helm %s: %w", opts.Helm, err)
		}
	}
	if opts.Charts == "" {
		return nil, errors.New("helm installer: no charts given: pass --charts DIR; " + chartsFix)
	}
	charts, err := FindHelmCharts(opts.Charts)
	if err != nil {
		return nil, fmt.Errorf("helm installer: %w", err)
	}
	timeout := opts.Timeouts.Install
	if timeout == 0 {
		timeout = DefaultTimeouts.Install
	}
	return &helm{bin: opts.Helm, charts: charts, timeout: timeout}, nil
}

func (h *helm) Name() env.Installer { return env.InstallerHelm }

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

func (h *helm) Install(ctx context.Context, t Target, op *IstioOperator, file string) error {
	return h.apply(ctx, t, op, file)
}

// InstallGateway installs the gateway chart without --wait: its pods may never run where no Envoy image exists.
func (h *helm) InstallGateway(ctx context.Context, t Target, op *IstioOperator, file string) error {
	return h.apply(ctx, t, op, file)
}

func (h *helm) Verify(ctx context.Context, t Target, primary bool) (string, error) {
	return verifyControlPlane(ctx, t.Client, primary)
}

// apply writes each release's values next to file and runs `helm upgrade --install` for it, in order (base's CRDs
// before istiod). upgrade --install converges: re-running `up` upgrades releases in place.
func (h *helm) apply(ctx context.Context, t Target, op *IstioOperator, file string) error {
	releases, err := HelmReleases(op)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	for _, r := range releases {
		b, err := r.ValuesYAML()
		if err != nil {
			return err
		}
		vf := HelmValuesFile(file, r)
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
func (h *helm) upgradeArgs(t Target, r HelmRelease, valuesFile string) []string {
	args := []string{"upgrade", "--install", r.Name, h.charts.Dir(r.Chart), "--namespace", Namespace, "-f", valuesFile}
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
func helmHint(err error, t Target, r HelmRelease) string {
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
			"(or `uninstall %s`), then run `meshconform up` again", r.Name, t.Kubeconfig, ctx, Namespace, r.Name, r.Name)
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
