package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/install"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/preflight"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/topology"
)

// DefaultTopology is what `up` and `run` bring up when no --topology is given.
const DefaultTopology = "multi-primary"

type envFlags struct {
	stateDir string
	cacheDir string
}

func (f *envFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.stateDir, "state-dir", env.DefaultDir(), "where the environment file and kubeconfigs are kept ($MESHCONFORM_HOME)")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", images.DefaultCacheDir(), "image kit cache ($MESHCONFORM_CACHE)")
}

// meshFlags choose how the mesh is installed on top of the provisioned clusters.
type meshFlags struct {
	skip         bool
	installer    string
	istioctl     string
	istioVersion string
	releaseURL   string
	helm, charts string
	hub, tag     string
	dataPlane    string
	exposeIstiod string
}

func (m *meshFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&m.skip, "no-mesh", false, "provision the infrastructure only: no Istio, no workloads")
	cmd.Flags().StringVar(&m.installer, "installer", "istioctl", "istioctl | helm | preinstalled (verify an existing install)")
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
	cmd.Flags().StringVar(&m.dataPlane, "data-plane", "proxyless", "proxyless (gRPC xDS, no Envoy) | sidecar (Envoy)")
	cmd.Flags().StringVar(&m.exposeIstiod, "expose-istiod", "", "how remotes reach istiod: loadbalancer | gateway (default: loadbalancer for proxyless)")
}

// validate rejects flag combinations that cannot mean anything; callers make its errors usage errors (exit 2).
func (m meshFlags) validate() error {
	switch {
	case m.installer != "istioctl" && m.installer != "helm" && m.installer != "preinstalled":
		return fmt.Errorf("--installer %q: use istioctl, helm or preinstalled", m.installer)
	case m.dataPlane != "proxyless" && m.dataPlane != "sidecar":
		return fmt.Errorf("--data-plane %q: use proxyless or sidecar", m.dataPlane)
	case m.exposeIstiod != "" && m.exposeIstiod != "loadbalancer" && m.exposeIstiod != "gateway":
		return fmt.Errorf("--expose-istiod %q: use loadbalancer or gateway", m.exposeIstiod)
	case m.istioVersion != "" && m.istioctl != "":
		return errors.New("--istio-version and --istioctl both choose the istioctl to install with: give one of them")
	case m.istioVersion != "" && m.installer != "istioctl":
		return fmt.Errorf("--istio-version fetches an istioctl, which --installer %s does not use", m.installer)
	case m.releaseURL != "" && m.istioVersion == "":
		return errors.New("--istio-release-url is where --istio-version downloads from: give --istio-version too")
	case (m.helm != "" || m.charts != "") && m.installer != "helm":
		return fmt.Errorf("--helm and --charts are for --installer helm, not --installer %s", m.installer)
	case m.istioctl != "" && m.installer != "istioctl":
		return fmt.Errorf("--istioctl is for --installer istioctl, not --installer %s", m.installer)
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

// istioOptions turns the flags into installer options, fetching a release's istioctl (--istio-version), and resolves
// the installer once (installer.Resolve: defaults filled, tools checked), so a missing tool is reported before any
// cluster is created; Istio's install uses the installer it returns.
func (m meshFlags) istioOptions(ctx context.Context, f envFlags, kit *images.Kit) (istio.Options, error) {
	o := istio.Options{Options: installer.Options{Installer: env.Installer(m.installer), Istioctl: m.istioctl, Helm: m.helm,
		Charts: m.charts}, Hub: m.hub, Tag: m.tag, DataPlane: env.DataPlane(m.dataPlane), ExposeIstiod: env.IstiodExposure(m.exposeIstiod)}
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
		return o, &exitError{code: 2, err: err}
	}
	o.Options, o.Resolved = resolved, inst
	return o, nil
}

func newTopologiesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "topologies",
		Short: "List the built-in topologies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, b := range topology.Builtins() {
				def := ""
				if b.Name == DefaultTopology {
					def = " (default)"
				}
				fmt.Fprintf(w, "%s%s\t%s\n", b.Name, def, b.Description)
			}
			return w.Flush()
		},
	}
}

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|BUILTIN",
		Short: "Check a topology file and print it with defaults filled in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := resolveTopology(args[0])
			if err != nil {
				return err
			}
			fmt.Printf("%s: valid (%d clusters, %d networks, %s networking, features %v)\n", args[0],
				len(t.Spec.Clusters), len(t.Networks()), t.Spec.Networking, t.Features())
			return nil
		},
	}
}

func newPreflightCommand() *cobra.Command {
	var topo string
	var f envFlags
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check this machine can run a topology (docker, inotify, memory, CPU, leftovers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolveTopology(topo)
			if err != nil {
				return err
			}
			return runPreflight(cmd.Context(), t, f.stateDir)
		},
	}
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name or topology file")
	f.register(cmd)
	return cmd
}

func runPreflight(ctx context.Context, t *topology.Topology, stateDir string) error {
	var opts preflight.Options
	if st, err := env.Load(stateDir); err == nil {
		for _, c := range st.Clusters {
			opts.OwnedClusters = append(opts.OwnedClusters, c.KindName)
		}
		for _, n := range st.Networks {
			opts.OwnedNetworks = append(opts.OwnedNetworks, n.Name)
		}
	}
	fmt.Printf("preflight for %s:\n", t.Metadata.Name)
	if preflight.Print(os.Stdout, preflight.Run(ctx, t, opts)) {
		return &exitError{code: 3, err: errors.New("preflight failed: fix the errors above")}
	}
	return nil
}

func newUpCommand() *cobra.Command {
	var topo, networking string
	var offline, skipPreflight bool
	var f envFlags
	var m meshFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Provision a topology (networks, kind clusters, reachability, MetalLB) and install the mesh and workloads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := resolveTopology(topo, networking)
			if err != nil {
				return err
			}
			if err := m.validate(); err != nil {
				return &exitError{code: 2, err: err}
			}
			_, err = up(cmd.Context(), t, f, m, offline, skipPreflight)
			return err
		},
	}
	m.register(cmd)
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name (see `meshconform topologies`) or topology file")
	cmd.Flags().StringVar(&networking, "networking", "", "bridged | isolated: override the topology's networking mode")
	cmd.Flags().BoolVar(&offline, "offline", false, "use images built here even if registries are reachable")
	cmd.Flags().BoolVar(&skipPreflight, "skip-preflight", false, "do not run the preflight checks first")
	f.register(cmd)
	return cmd
}

func up(ctx context.Context, t *topology.Topology, f envFlags, m meshFlags, offline, skipPreflight bool) (*env.State, error) {
	if !skipPreflight {
		if err := runPreflight(ctx, t, f.stateDir); err != nil {
			return nil, err
		}
	}
	kit, err := images.New(images.Options{CacheDir: f.cacheDir, Out: os.Stdout})
	if err != nil {
		return nil, err
	}
	var mesh istio.Options
	if !m.skip {
		if mesh, err = m.istioOptions(ctx, f, kit); err != nil {
			return nil, err
		}
	}
	st, err := provision.Up(ctx, t, provision.Options{StateDir: f.stateDir, Offline: offline, Kit: kit, Out: os.Stdout})
	if err != nil || m.skip {
		return st, err
	}
	return st, install.Install(ctx, t, st, install.Options{Kit: kit, Out: os.Stdout, Istio: mesh})
}

func newDownCommand() *cobra.Command {
	var all bool
	var f envFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the environment's clusters, networks and rules (and only meshconform's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			began := time.Now()
			// Cleanup must finish even when the user presses Ctrl-C again.
			ctx := context.WithoutCancel(cmd.Context())
			if err := provision.Down(ctx, f.stateDir, all, os.Stdout); err != nil {
				return err
			}
			fmt.Printf("down in %s\n", time.Since(began).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also remove every meshconform cluster, network and rule not in the environment file")
	f.register(cmd)
	return cmd
}

func newStatusCommand() *cobra.Command {
	var f envFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the environment: clusters, networks, images, phases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.Load(f.stateDir)
			if err != nil {
				return err
			}
			live, _ := clusters.List()
			fmt.Printf("topology %s (%s networking), environment %s\n", st.Topology.Name, st.Topology.Networking, st.Path())
			fmt.Printf("images: %s (%s), node image %s\n", st.Images.Source, st.Images.Reason, st.Images.NodeImage)
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CLUSTER\tROLE\tNETWORK\tDOCKER NETWORK\tNODES\tAPI (in-network)\tLB POOL\tSTATE\tKUBECONFIG")
			for _, c := range st.Clusters {
				state := "byo"
				if c.Provisioned {
					state = "missing"
					for _, l := range live {
						if l == c.KindName {
							state = "running"
						}
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s-%s\t%s\t%s\n", c.Name, c.Role, c.Network, c.DockerNetwork,
					len(c.Nodes), c.Access.ControlPlaneIP, c.PoolFirst, c.PoolLast, state, c.Access.Kubeconfig)
			}
			w.Flush()
			if m := st.Mesh; m != nil {
				fmt.Printf("mesh: Istio %s via %s, %s data plane, istiod exposed by %s, trust domain %s, root %s\n",
					m.IstioVersion, m.Installer, m.DataPlane, valueOr(string(m.ExposeIstiod), "-"), m.TrustDomain, m.RootFingerprint)
				for _, n := range m.Notes {
					fmt.Printf("note: %s\n", n)
				}
			}
			for _, n := range st.Networks {
				fmt.Printf("network %s %s bridge %s, LB range %s\n", n.Name, n.Subnet, n.Bridge, network.Network(n).LBRange())
			}
			if rules := network.ListRules(cmd.Context()); len(rules) > 0 {
				fmt.Printf("%d iptables allow rules in DOCKER-USER\n", len(rules))
			}
			for _, p := range st.Phases {
				fmt.Printf("phase %-14s %s\n", p.Name, p.Duration.Round(time.Second))
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func valueOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// resolveTopology loads a built-in or a topology file, with networking (if set) overriding the file's; a bad one is
// a usage error (exit code 2).
func resolveTopology(nameOrPath string, networking ...string) (*topology.Topology, error) {
	t, err := topology.Resolve(nameOrPath)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if len(networking) > 0 && networking[0] != "" {
		n := topology.Networking(networking[0])
		if n != topology.NetworkingBridged && n != topology.NetworkingIsolated {
			return nil, &exitError{code: 2, err: fmt.Errorf("--networking %q: use bridged or isolated", networking[0])}
		}
		t.Spec.Networking = n
		if err := t.Validate(); err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("%s with --networking %s: %w", nameOrPath, n, err)}
		}
	}
	return t, nil
}
