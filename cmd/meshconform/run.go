package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/artifacts"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/report"
)

func newRunCommand() *cobra.Command {
	var topo, networking string
	var offline, keep, skipPreflight bool
	var f envFlags
	var m meshFlags
	var tf testFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Bring a topology up, run the conformance suites, write the reports, and take it down (unless --keep)",
		Long: "run = up + test + down. Exit code 0: conformant (every spec that ran passed); 1: a spec failed or up\n" +
			"failed; 2: bad input. The report directory holds the conformance report, JUnit and, on failure,\n" +
			"artifacts of every cluster.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			began := time.Now()
			t, err := resolveTopology(topo, networking)
			if err != nil {
				return err
			}
			if err := m.validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if m.skip {
				return &exitError{code: exitUsage, err: fmt.Errorf("--no-mesh: run tests the mesh; use `meshconform up --no-mesh` for clusters only")}
			}
			tc, err := tf.config(f.stateDir)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			// What needs Envoy is refused before any cluster is created, not found out from a crash loop.
			if err := m.requireEnvoy(cmd.Context()); err != nil {
				return err
			}
			if err := requireRunnableSelection(cmd.Context(), m, tc.LabelFilter, tc.Focus); err != nil {
				return err
			}
			release, err := f.lock(cmd.Context())
			if err != nil {
				return err
			}
			defer release()
			// The cleanup removes what this run creates, never an environment that was up before it.
			_, loadErr := env.Load(f.stateDir)
			switch {
			case loadErr == nil && !keep:
				defer fmt.Printf("the environment in %s was up before this run: kept (`meshconform down` removes it)\n", f.stateDir)
			case !keep:
				defer func() {
					fmt.Println("removing the environment (use --keep to keep it)")
					derr := provision.Down(context.WithoutCancel(cmd.Context()), provision.DownOptions{StateDir: f.stateDir, Out: os.Stdout})
					if err == nil {
						err = derr
					}
				}()
			}
			st, err := up(cmd.Context(), t, f, m, tc.Timeouts, offline, skipPreflight)
			if err != nil {
				// Before down removes them: what the clusters looked like when up failed.
				if st != nil && len(st.Clusters) > 0 && tc.ReportDir != "" && !tc.NoArtifacts && cmd.Context().Err() == nil {
					dir := filepath.Join(tc.ReportDir, report.ArtifactsDir)
					fmt.Printf("up failed: collecting the state of every cluster into %s\n", dir)
					if aerr := artifacts.Collect(context.WithoutCancel(cmd.Context()), st, dir, artifacts.Options{Out: os.Stdout}); aerr != nil {
						fmt.Printf("artifacts (partial): %v\n", aerr)
					}
				}
				return err
			}
			for _, c := range st.Clusters {
				if !c.Provisioned { // a brought cluster: meshconform knows its kubeconfig, not its nodes or pool
					fmt.Printf("cluster %-10s %-7s network %-9s brought (%s, context %s)\n", c.Name, c.Role, c.Network,
						c.Access.Kubeconfig, c.Access.Context)
					continue
				}
				fmt.Printf("cluster %-10s %-7s network %-9s nodes %d, API %s, LB pool %s-%s\n", c.Name, c.Role, c.Network,
					len(c.Nodes), c.Access.ControlPlaneIP, c.PoolFirst, c.PoolLast)
			}
			if st.Mesh != nil {
				fmt.Printf("mesh: Istio %s via %s, %s data plane, root %s\n", st.Mesh.IstioVersion, st.Mesh.Installer,
					st.Mesh.DataPlane, st.Mesh.RootFingerprint)
				for _, n := range st.Mesh.Notes {
					fmt.Printf("note: %s\n", n)
				}
			}
			tc.TopologyFile = topo
			testErr := runSuites(cmd.Context(), tc)
			fmt.Printf("run of %s finished in %s\n", t.Metadata.Name, time.Since(began).Round(time.Second))
			return testErr
		},
	}
	cmd.Flags().StringVar(&topo, "topology", DefaultTopology, "built-in name or topology file")
	cmd.Flags().StringVar(&networking, "networking", "", "bridged | isolated: override the topology's networking mode")
	cmd.Flags().BoolVar(&offline, "offline", false, "use images built here even if registries are reachable")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the environment after the run (remove it with `meshconform down`)")
	cmd.Flags().BoolVar(&skipPreflight, "skip-preflight", false, "do not run the preflight checks first")
	f.register(cmd)
	m.register(cmd)
	tf.register(cmd)
	return cmd
}
