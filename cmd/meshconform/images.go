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
	var forRun, offline bool
	tools := &cobra.Command{
		Use:   "tools [ARTIFACT...]",
		Short: "Print the Debian packages the kit still needs here to build the artifacts (nothing when none)",
		Long: "Prints, space-separated on stdout, the Debian packages of the host tools that `images build ARTIFACT...`\n" +
			"(every artifact when none is named) would run and that are not installed; only artifacts that are not up to\n" +
			"date count. With --run: the artifacts `meshconform run` builds on this machine, which probes the registry as\n" +
			"`up` does (the offline node image, hence debootstrap, only when no registry answers or with --offline).\n" +
			"`make run` installs what it prints (after apt-get update) and nothing when it prints nothing.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if offline && !forRun {
				return &exitError{code: exitUsage, err: fmt.Errorf("--offline is for --run")}
			}
			if forRun && len(args) > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("--run chooses the artifacts itself: name none")}
			}
			kit, err := images.New(images.Options{CacheDir: cacheDir})
			if err != nil {
				return err
			}
			names := args
			if forRun {
				plan := images.Choose(cmd.Context(), offline)
				fmt.Fprintf(os.Stderr, "images: %s (%s)\n", plan.Source, plan.Reason)
				// up builds the plan's artifacts, then the kit's Istio (unless --hub/--tag/--istio-version) and the
				// test workload: Go builds only.
				names = append(plan.Artifacts(), "istio", "workload")
			}
			pkgs, err := kit.MissingTools(cmd.Context(), names...)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if len(pkgs) > 0 {
				fmt.Fprintf(os.Stderr, "the image kit needs %s to build %s here and it is not installed: %s\n",
					strings.Join(pkgs, ", "), strings.Join(names, ", "), images.AptInstall(pkgs...))
				fmt.Println(strings.Join(pkgs, " "))
			}
			return nil
		},
	}
	tools.Flags().BoolVar(&forRun, "run", false, "for what `meshconform run` builds here (the registry probe decides)")
	tools.Flags().BoolVar(&offline, "offline", false, "with --run: as `run --offline`")
	cmd.AddCommand(build, list, tools)
	return cmd
}
