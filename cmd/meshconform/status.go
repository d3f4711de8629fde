package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/network"
)

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
			fmt.Printf("environment %s: topology %s (%s networking), file %s\n", st.Name, st.Topology.Name, st.Topology.Networking, st.Path())
			fmt.Printf("images: %s (%s), node image %s\n", st.Images.Source, st.Images.Reason, st.Images.NodeImage)
			if e := st.Engine; e != nil {
				fmt.Printf("engine: docker %s (%s)\n", e.Version, valueOr(e.Host, "default socket or context"))
			}
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
				for _, c := range st.Clusters {
					in := m.InjectionOf(c.Name)
					var ds []string
					for _, d := range m.Clusters[c.Name].Istiods {
						ds = append(ds, fmt.Sprintf("%s %s (revision %s)", d.Deployment, valueOr(d.Version, "?"), d.Revision))
					}
					fmt.Printf("%s: test workloads injected by %s=%s (revision %s)%s\n", c.Name, in.Label, in.Value, in.Revision,
						map[bool]string{true: "; runs " + strings.Join(ds, ", "), false: ""}[len(ds) > 0])
				}
				for _, n := range m.Notes {
					fmt.Printf("note: %s\n", n)
				}
			}
			for _, n := range st.Networks {
				fmt.Printf("network %s %s bridge %s, LB range %s\n", n.Name, n.Subnet, n.Bridge, network.Network(n).LBRange())
			}
			if rules := network.ListRules(cmd.Context(), network.EnvRuleTag(st.Name)); len(rules) > 0 {
				fmt.Printf("%d iptables rules of this environment in DOCKER-USER\n", len(rules))
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
