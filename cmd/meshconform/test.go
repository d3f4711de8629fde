package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/meshconform/meshconform/framework/artifacts"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites"
)

// testFlags are the flags of `test` (and of `run`, which tests after `up`).
type testFlags struct {
	reportDir   string
	labelFilter string
	focus       []string
	verbose     bool
	noArtifacts bool
	timeouts    map[string]string
	falseAlarm  float64
}

func (t *testFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.reportDir, "report-dir", "meshconform-report",
		"where junit.xml, ginkgo-report.json, conformance-report.yaml, report.html and (on failure) artifacts/ go")
	cmd.Flags().StringVar(&t.labelFilter, "label-filter", "",
		"Ginkgo label filter, e.g. 'area:trust || area:discovery' or '!needs:envoy'")
	cmd.Flags().StringSliceVar(&t.focus, "focus", nil, "run only specs whose text matches this regular expression")
	cmd.Flags().BoolVarP(&t.verbose, "verbose", "v", true, "print every spec and its steps as it runs")
	cmd.Flags().BoolVar(&t.noArtifacts, "no-artifacts", false, "do not dump every cluster's state when a spec fails")
	cmd.Flags().StringToStringVar(&t.timeouts, "timeout", nil, "override a wait, e.g. --timeout sync=5m,warmUp=2m "+
		"(sync, certs, discovery, gateway, probe, warmUp, docFidelity, suite)")
	cmd.Flags().Float64Var(&t.falseAlarm, "false-alarm", 1e-6, "false-alarm rate of the load-balancing verdict (at most 1e-6)")
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
	if _, err := c.Timeouts.WithDefaults(); err != nil {
		return c, fmt.Errorf("--timeout: %w", err)
	}
	if t.labelFilter != "" {
		if _, err := types.ParseLabelFilter(t.labelFilter); err != nil {
			return c, fmt.Errorf("--label-filter %q: %v (labels: %s)", t.labelFilter, err, labelVocabulary())
		}
	}
	if t.falseAlarm <= 0 || t.falseAlarm > 1e-6 {
		return c, fmt.Errorf("--false-alarm %g: must be in (0, 1e-6]", t.falseAlarm)
	}
	return c, nil
}

// labelVocabulary lists the labels specs carry, from the suites' one vocabulary.
func labelVocabulary() string {
	var areas, features, needs, specs []string
	for _, a := range v1alpha1.Areas {
		areas = append(areas, string(a))
	}
	for _, f := range v1alpha1.Features {
		features = append(features, string(f))
	}
	for _, n := range v1alpha1.Needs {
		needs = append(needs, string(n))
	}
	for _, s := range suites.Catalogue {
		specs = append(specs, s.ShortName)
	}
	return fmt.Sprintf("%s<%s>, %s<%s>, %s%s, %s<%s>, %s<%s>", v1alpha1.AreaLabelPrefix, strings.Join(areas, "|"),
		v1alpha1.FeatureLabelPrefix, strings.Join(features, "|"), v1alpha1.DataPlaneLabelPrefix, env.DataPlaneSidecar,
		v1alpha1.NeedsLabelPrefix, strings.Join(needs, "|"), v1alpha1.SpecLabelPrefix, strings.Join(specs, "|"))
}

// parseTimeouts reads NAME=DURATION pairs into Timeouts, by the fields' json names.
func parseTimeouts(in map[string]string) (suites.Timeouts, error) {
	var t suites.Timeouts
	v := reflect.ValueOf(&t).Elem()
	var names []string
	for i := range v.NumField() {
		names = append(names, v.Type().Field(i).Tag.Get("json"))
	}
	for k, s := range in {
		i := -1
		for j, n := range names {
			if strings.EqualFold(n, k) {
				i = j
			}
		}
		if i < 0 {
			return t, fmt.Errorf("--timeout %s: unknown wait; use one of %s", k, strings.Join(names, ", "))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return t, fmt.Errorf("--timeout %s=%s: %w (e.g. 90s or 5m)", k, s, err)
		}
		v.Field(i).SetInt(int64(d))
	}
	return t, nil
}

// runSuites runs the conformance suites and turns the verdict into the exit code: 0 all passed, 1 a spec failed.
func runSuites(ctx context.Context, c suites.Config) error {
	began := time.Now()
	res, err := suites.Run(c)
	if res != nil {
		writeReports(ctx, c, res)
	}
	if ctx.Err() != nil {
		// Ginkgo stopped at the interrupt, ran the cleanups and wrote what it had.
		return fmt.Errorf("conformance run interrupted after %s (partial reports in %s): %w",
			time.Since(began).Round(time.Second), c.ReportDir, ctx.Err())
	}
	if errors.Is(err, suites.ErrNoEnvironment) {
		return &exitError{code: 2, err: fmt.Errorf("%w: bring one up with `meshconform up` (state directory %s)", err, c.StateDir)}
	}
	if err != nil {
		return err
	}
	if c.ReportDir != "" {
		fmt.Printf("reports in %s (conformance-report.yaml, report.html, junit.xml)\n", c.ReportDir)
	}
	if !res.Passed {
		return &exitError{code: 1, err: fmt.Errorf("conformance failed after %s: see the failures above and %s",
			time.Since(began).Round(time.Second), c.ReportDir)}
	}
	fmt.Printf("conformance passed in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// writeReports writes the run's reports into c.ReportDir and, when a spec failed, every cluster's artifacts (also
// after an interrupt: that is when they are wanted).
func writeReports(ctx context.Context, c suites.Config, res *suites.Result) {
	if c.ReportDir == "" {
		return
	}
	o := report.WriteOptions{Out: c.Out}
	if !c.NoArtifacts {
		o.Artifacts = func(ctx context.Context, st *env.State, dir string) error {
			return artifacts.Collect(ctx, st, dir, artifacts.Options{Out: c.Out})
		}
	}
	if err := report.Write(context.WithoutCancel(ctx), c.ReportDir, res.Run, o); err != nil {
		fmt.Fprintf(c.Out, "reports: %v\n", err)
	}
}

func newTestCommand() *cobra.Command {
	var f envFlags
	var t testFlags
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the conformance suites against the environment `up` made (or clusters you brought)",
		Long: "test reads the environment file and runs the specs of every area (trust, discovery, gateway,\n" +
			"loadbalancing, isolation, doc-fidelity) against the live clusters. Exit code 0: every spec that ran passed;\n" +
			"1: a spec failed (the report directory has the conformance report and every cluster's artifacts);\n" +
			"2: bad flags or no environment.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := t.config(f.stateDir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return runSuites(cmd.Context(), c)
		},
	}
	f.register(cmd)
	t.register(cmd)
	return cmd
}
