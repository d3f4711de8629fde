package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/images"
)

func newImagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build the images meshconform needs from Go sources and Debian packages (no registry needed)",
	}
	var cacheDir string
	var force []string
	cmd.PersistentFlags().StringVar(&cacheDir, "cache-dir", images.DefaultCacheDir(), "where binaries, rootfs and logs are kept")

	build := &cobra.Command{
		Use:   "build [ARTIFACT...]",
		Short: "Build every artifact (or the named ones) whose inputs changed",
		Long: "Builds, with no container registry: " + fmt.Sprint(images.Names()) + ".\n" +
			"Each artifact is skipped when an output with its content stamp exists. Needs root (debootstrap) and docker.",
		RunE: func(cmd *cobra.Command, args []string) error {
			kit, err := images.New(images.Options{CacheDir: cacheDir, Out: os.Stdout, Force: force})
			if err != nil {
				return err
			}
			return kit.Prebuild(cmd.Context(), args...)
		},
	}
	build.Flags().StringSliceVar(&force, "force", nil, "rebuild these artifacts (or all) even when up to date")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the artifacts, their content stamps and whether they are built",
		RunE: func(cmd *cobra.Command, args []string) error {
			kit, err := images.New(images.Options{CacheDir: cacheDir})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ARTIFACT\tSTAMP\tSTATE\tDESCRIPTION")
			for _, n := range images.Names() {
				state := "missing"
				if kit.UpToDate(cmd.Context(), n) {
					state = "built"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n, kit.Stamp(n)[:12], state, images.Describe(n))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if b, err := kit.Missing(cmd.Context(), images.Names()...); err == nil && len(b.Artifacts) > 0 {
				fmt.Printf("to build: %d artifacts (%s), about %s on this machine\n", len(b.Artifacts),
					strings.Join(b.Artifacts, ", "), b.Estimate.Round(10*time.Second))
			}
			return nil
		},
	}
	cmd.AddCommand(build, list)
	return cmd
}
