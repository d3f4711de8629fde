package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/timeouts"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/suites"
)

// DefaultTopology is what `up` and `run` bring up when no --topology is given.
const DefaultTopology = "multi-primary"

type envFlags struct {
	stateDir string
	cacheDir string
	env      string
}

func (f *envFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.stateDir, "state-dir", env.DefaultDir(), "where the environment file and kubeconfigs are kept ($MESHCONFORM_HOME)")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", images.DefaultCacheDir(), "image kit cache ($MESHCONFORM_CACHE)")
	cmd.Flags().StringVar(&f.env, "env", "", "the environment's name, carried by everything it creates (1-12 lower-case letters and digits; "+
		"$"+env.NameEnv+"; default: the one its file records, else derived from --state-dir)")
}

// envName resolves the environment's name from --env, $MESHCONFORM_ENV, the state directory's file and the
// directory itself (env.ResolveName); a bad or contradicting name is a usage error.
func (f envFlags) envName() (string, error) {
	recorded := ""
	if st, err := env.Load(f.stateDir); err == nil {
		recorded = st.Name
	}
	name, err := env.ResolveName(f.env, f.stateDir, recorded)
	if err != nil {
		return "", &exitError{code: exitUsage, err: err}
	}
	return name, nil
}

// lock takes the state directory's lock for the rest of the command, saying so if another command holds it.
func (f envFlags) lock(ctx context.Context) (func(), error) {
	return env.LockDir(ctx, f.stateDir, func(msg string) { fmt.Println(msg) })
}

// meshFlags choose how the mesh is installed on top of the provisioned clusters.
type meshFlags struct {
	skip         bool
	installer    env.Installer
	istioctl     string
	istioVersion string
	releaseURL   string
	helm, charts string
	hub, tag     string
	dataPlane    env.DataPlane
	exposeIstiod env.IstiodExposure
	revision     string
	adopt        bool
}

func (m *meshFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&m.skip, "no-mesh", false, "provision the infrastructure only: no Istio, no workloads")
	cmd.Flags().StringVar((*string)(&m.installer), "installer", string(env.InstallerIstioctl), choices(env.Installers)+" (preinstalled: verify an existing install)")
	cmd.Flags().StringVar(&m.istioctl, "istioctl", "", "istioctl binary to install with (default: the one the image kit builds)")
	cmd.Flags().StringVar(&m.istioVersion, "istio-version", "", "download this Istio release's istioctl (checksum verified, cached) "+
		"and install with it and its own images")
	cmd.Flags().StringVar(&m.releaseURL, "istio-release-url", "", "where --istio-version downloads from (default: $"+
		installer.ReleaseURLEnv+", else "+installer.DefaultReleaseURL+")")
	cmd.Flags().StringVar(&m.helm, "helm", "", "helm binary for --installer helm (default: helm on PATH, else built by the image kit)")
	cmd.Flags().StringVar(&m.charts, "charts", "", "directory of Istio's base, istiod and gateway charts for --installer helm "+
		"(default: manifests/charts of the Istio the image kit builds)")
	cmd.Flags().StringVar(&m.hub, "hub", "", "Istio image hub (default: the image kit's offline images, or the installer's own)")
	cmd.Flags().StringVar(&m.tag, "tag", "", "Istio image tag")
	cmd.Flags().StringVar((*string)(&m.dataPlane), "data-plane", string(env.DataPlaneProxyless), string(env.DataPlaneProxyless)+" (gRPC xDS, no Envoy) | "+string(env.DataPlaneSidecar)+" (Envoy)")
	cmd.Flags().StringVar((*string)(&m.exposeIstiod), "expose-istiod", "", "how remotes reach istiod: "+choices(env.IstiodExposures)+" (default: loadbalancer for proxyless)")
	cmd.Flags().StringVar(&m.revision, "revision", "", "istiod revision: install istiod as this revision (istioctl --revision, "+
		"helm revision) or, with --installer preinstalled, test this revision or revision tag; the test namespaces are labelled "+
		"istio.io/rev=<it> (default: the topology's spec.mesh.revision, else the default revision; preinstalled: the "+
		"default revision or tag, else the only revision, else an error listing them)")
	cmd.Flags().BoolVar(&m.adopt, strings.TrimPrefix(env.AdoptFlag, "--"), false, "take over the remote secrets, cacerts and "+
		"other istio-system objects meshconform writes (reader token, istiod's Gateway, VirtualService, LoadBalancer) "+
		"where one exists that this environment did not create: overwrite it and label it as the environment's own, "+
		"so `down` deletes it (default: refuse, naming it)")
}

// validate rejects flag combinations that cannot mean anything; callers make its errors usage errors (exitUsage).
func (m meshFlags) validate() error {
	switch {
	case !slices.Contains(env.Installers, m.installer):
		return fmt.Errorf("--installer %q: use istioctl, helm or preinstalled", m.installer)
	case !slices.Contains(env.DataPlanes, m.dataPlane):
		return fmt.Errorf("--data-plane %q: use proxyless or sidecar", m.dataPlane)
	case m.exposeIstiod != "" && !slices.Contains(env.IstiodExposures, m.exposeIstiod):
		return fmt.Errorf("--expose-istiod %q: use loadbalancer or gateway", m.exposeIstiod)
	case m.istioVersion != "" && m.istioctl != "":
		return errors.New("--istio-version and --istioctl both choose the istioctl to install with: give one of them")
	case m.istioVersion != "" && m.installer != env.InstallerIstioctl:
		return fmt.Errorf("--istio-version fetches an istioctl, which --installer %s does not use", m.installer)
	case m.releaseURL != "" && m.istioVersion == "":
		return errors.New("--istio-release-url is where --istio-version downloads from: give --istio-version too")
	case (m.helm != "" || m.charts != "") && m.installer != env.InstallerHelm:
		return fmt.Errorf("--helm and --charts are for --installer helm, not --installer %s", m.installer)
	case m.istioctl != "" && m.installer != env.InstallerIstioctl:
		return fmt.Errorf("--istioctl is for --installer istioctl, not --installer %s", m.installer)
	case m.revision != "" && m.skip:
		return errors.New("--revision chooses the istiod revision of the mesh, which --no-mesh does not install")
	case m.adopt && (m.skip || m.installer == env.InstallerPreinstalled):
		return fmt.Errorf("%s takes over objects meshconform's Istio install writes: --no-mesh and --installer "+
			"preinstalled write none", env.AdoptFlag)
	}
	if err := render.ValidateRevision("--revision", m.revision); err != nil {
		return err
	}
	for flag, p := range map[string]string{"--istioctl": m.istioctl, "--helm": m.helm} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("%s %s: %w", flag, p, err)
			}
		}
	}
	if m.charts != "" {
		if _, err := installer.FindHelmCharts(m.charts); err != nil {
			return err
		}
	}
	return nil
}

// inspectImage reads a local image's labels for the Envoy guards (nil: the docker engine's; tests set it).
var inspectImage istio.InspectImage

// proxyImage is the proxyv2 image the install these flags ask for would run.
func (m meshFlags) proxyImage() istio.ProxyImage {
	kitInstaller := m.istioVersion == "" && m.istioctl == "" && m.charts == ""
	return istio.PlannedProxyImage(m.installer, m.hub, m.tag, m.istioVersion, kitInstaller)
}

// requireEnvoy refuses, before anything is created, the sidecar data plane with a proxy image known to have no
// Envoy (a usage error): its sidecars and gateways would only crash-loop.
func (m meshFlags) requireEnvoy(ctx context.Context) error {
	if m.skip || m.dataPlane != env.DataPlaneSidecar {
		return nil
	}
	if err := istio.RequireEnvoy(ctx, "--data-plane sidecar", m.proxyImage(), inspectImage); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}

// requireRunnableSelection refuses (a usage error) a run whose label filter and focus select only specs that need
// what the run cannot give them: the sidecar data plane, or Envoy in the proxy image (e.g. the install guide's check
// asked for by itself on the kit's images). A selection with one spec that can run goes ahead; the rest are skipped
// with their reasons, as always.
func requireRunnableSelection(ctx context.Context, m meshFlags, labelFilter string, focus []string) error {
	selected, err := suites.Selected(labelFilter, focus)
	if err != nil || len(selected) == 0 {
		return nil // a bad filter is refused by testFlags.config; one that selects nothing runs nothing, as Ginkgo does
	}
	var verdict *istio.EnvoyVerdict
	var lacks, names []string
	for _, s := range selected {
		switch {
		case s.DataPlane != "" && s.DataPlane != m.dataPlane:
			lacks = append(lacks, fmt.Sprintf("%s needs --data-plane %s", s.ShortName, s.DataPlane))
		case s.NeedsEnvoy():
			if verdict == nil {
				v := istio.EnvoyIn(ctx, m.proxyImage(), inspectImage)
				verdict = &v
			}
			if !verdict.Absent {
				return nil
			}
			lacks = append(lacks, s.ShortName+" needs Envoy")
		default:
			return nil
		}
		names = append(names, s.ShortName)
	}
	what := "every spec --label-filter/--focus selects (" + strings.Join(names, ", ") + ")"
	if verdict != nil && verdict.Absent {
		return &exitError{code: exitUsage, err: &istio.NoEnvoyError{What: what, Verdict: *verdict,
			Otherwise: "or select specs that need no Envoy"}}
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("%s cannot run in this run: %s. Add --data-plane %s with images "+
		"that have Envoy (--istio-version %s), or select other specs", what, strings.Join(lacks, "; "), env.DataPlaneSidecar,
		installer.ExampleRelease)}
}

// istioOptions turns the flags into installer options, fetching a release's istioctl (--istio-version), and resolves
// the installer once (installer.Resolve: defaults filled, tools checked), so a missing tool is reported before any
// cluster is created; Istio's install uses the installer it returns.
func (m meshFlags) istioOptions(ctx context.Context, f envFlags, kit *images.Kit) (istio.Options, error) {
	o := istio.Options{Options: installer.Options{Installer: m.installer, Istioctl: m.istioctl, Helm: m.helm,
		Charts: m.charts}, Hub: m.hub, Tag: m.tag, DataPlane: m.dataPlane, ExposeIstiod: m.exposeIstiod, Revision: m.revision,
		AdoptExistingSecrets: m.adopt}
	if m.istioVersion != "" {
		bin, err := installer.FetchIstioctl(ctx, installer.FetchOptions{Version: m.istioVersion, BaseURL: m.releaseURL,
			CacheDir: filepath.Join(f.cacheDir, "istioctl"), Out: os.Stdout})
		if err != nil {
			return o, err
		}
		o.Istioctl, o.InstallerImages = bin, true
		if m.hub == "" && m.tag == "" {
			fmt.Printf("istioctl %s installs its own images (its default hub, tag %s): the kit's are not used\n",
				m.istioVersion, m.istioVersion)
		}
	}
	inst, resolved, err := installer.Resolve(ctx, kit, o.Options, os.Stdout)
	if err != nil {
		return o, &exitError{code: exitUsage, err: err}
	}
	o.Options, o.Resolved = resolved, inst
	return o, nil
}

// resolveTopology loads a built-in or a topology file, with networking (if set) overriding the file's; a bad one is
// a usage error (exitUsage).
func resolveTopology(nameOrPath string, networking ...string) (*topology.Topology, error) {
	t, err := topology.Resolve(nameOrPath)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if len(networking) > 0 && networking[0] != "" {
		n := topology.Networking(networking[0])
		if n != topology.NetworkingBridged && n != topology.NetworkingIsolated {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--networking %q: use bridged or isolated", networking[0])}
		}
		t.Spec.Networking = n
		if err := t.Validate(); err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s with --networking %s: %w", nameOrPath, n, err)}
		}
	}
	return t, nil
}

// testFlags are the flags of `test` (and of `run`, which tests after `up`).
type testFlags struct {
	reportDir   string
	labelFilter string
	focus       []string
	verbose     bool
	noArtifacts bool
	timeouts    map[string]string
	falseAlarm  float64
	disruptive  bool
	// disruptiveSet: --disruptive was given (either way); unset means the default for the environment.
	disruptiveSet func() bool
}

func (t *testFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.reportDir, "report-dir", "meshconform-report",
		"where junit.xml, ginkgo-report.json, conformance-report.yaml, report.html and (on failure) artifacts/ go")
	cmd.Flags().StringVar(&t.labelFilter, "label-filter", "",
		"Ginkgo label filter, e.g. 'area:trust || area:discovery' or '!needs:envoy'")
	cmd.Flags().StringSliceVar(&t.focus, "focus", nil, "run only specs whose text matches this regular expression")
	cmd.Flags().BoolVarP(&t.verbose, "verbose", "v", true, "print every spec and its steps as it runs")
	cmd.Flags().BoolVar(&t.noArtifacts, "no-artifacts", false, "do not dump every cluster's state when a spec fails")
	timeoutFlag(cmd, &t.timeouts)
	cmd.Flags().Float64Var(&t.falseAlarm, "false-alarm", 1e-6, "false-alarm rate of the load-balancing verdict (at most 1e-6)")
	cmd.Flags().BoolVar(&t.disruptive, "disruptive", false, "run the disruptive specs (they change the mesh on purpose "+
		"and restore it; label 'disruptive'). Default: on for environments meshconform created, off for brought clusters")
	t.disruptiveSet = func() bool { return cmd.Flags().Changed("disruptive") }
}

// config turns the flags into the suites' configuration; errors are usage errors.
func (t *testFlags) config(stateDir string) (suites.Config, error) {
	c := suites.Config{StateDir: stateDir, ReportDir: t.reportDir, LabelFilter: t.labelFilter, Focus: t.focus,
		Verbose: t.verbose, NoArtifacts: t.noArtifacts, FalseAlarm: t.falseAlarm, Command: os.Args, Version: version,
		Out: os.Stdout}
	to, err := parseTimeouts(t.timeouts)
	if err != nil {
		return c, err
	}
	c.Timeouts = to
	if t.disruptiveSet != nil && t.disruptiveSet() {
		c.Disruptive = suites.DisruptionOff
		if t.disruptive {
			c.Disruptive = suites.DisruptionOn
		}
	}
	if t.labelFilter != "" {
		if _, err := types.ParseLabelFilter(t.labelFilter); err != nil {
			return c, fmt.Errorf("--label-filter %q: %v (labels: %s)", t.labelFilter, err, labelVocabulary())
		}
	}
	if !(t.falseAlarm > 0 && t.falseAlarm <= 1e-6) { // also refuses NaN
		return c, fmt.Errorf("--false-alarm %g: must be in (0, 1e-6]", t.falseAlarm)
	}
	return c, nil
}

// timeoutFlag registers --timeout, which sets any of meshconform's waits (framework/timeouts).
func timeoutFlag(cmd *cobra.Command, into *map[string]string) {
	cmd.Flags().StringToStringVar(into, "timeout", nil, "override a wait, e.g. --timeout sync=5m,warmUp=2m,metallb=5m ("+
		strings.Join(timeouts.Names(), ", ")+"; defaults and maxima: README)")
}

// parseTimeouts reads --timeout's NAME=DURATION pairs, naming every bad one.
func parseTimeouts(in map[string]string) (timeouts.Timeouts, error) {
	t, err := timeouts.Parse(in)
	if err != nil {
		return t, fmt.Errorf("--timeout: %w", err)
	}
	return t, nil
}

// choices lists a flag's values as its help says them, from the one vocabulary.
func choices[T ~string](vs []T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, " | ")
}
