package suites

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/artifacts"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
)

// lastReport is the conformance report of the run, for the caller of Run.
var lastReport *report.ConformanceReport

// writeReports writes the conformance report and its HTML page and, on failure, every cluster's artifacts into
// cfg.ReportDir (Ginkgo itself writes junit.xml and ginkgo-report.json there).
func writeReports(r Report) {
	if r.SuiteConfig.DryRun {
		return
	}
	st, err := env.Load(cfg.StateDir)
	if err != nil {
		st = nil // the report says the environment was missing
	}
	began := started
	if began.IsZero() {
		began = r.StartTime
	}
	cr := report.Build(r, st, report.Options{Command: cfg.Command, TopologyFile: cfg.TopologyFile,
		Version: cfg.Version, Started: began, TestDuration: time.Since(began)})
	lastReport = cr
	if cfg.ReportDir == "" {
		return
	}
	for _, w := range []struct {
		name  string
		write func(string) error
	}{{report.YAMLFile, cr.WriteYAML}, {report.HTMLFile, cr.WriteHTML}} {
		if err := w.write(filepath.Join(cfg.ReportDir, w.name)); err != nil {
			fmt.Fprintf(cfg.Out, "write %s: %v\n", w.name, err)
		}
	}
	if !cr.Failed() || cfg.NoArtifacts || st == nil {
		return
	}
	dir := filepath.Join(cfg.ReportDir, report.ArtifactsDir)
	fmt.Fprintf(cfg.Out, "a spec failed: collecting the state of every cluster into %s\n", dir)
	began = time.Now()
	if err := artifacts.Collect(context.Background(), st, dir, artifacts.Options{Out: cfg.Out}); err != nil {
		fmt.Fprintf(cfg.Out, "artifacts (partial): %v\n", err)
	}
	fmt.Fprintf(cfg.Out, "artifacts collected in %s\n", time.Since(began).Round(time.Second))
}

// LastReport is the conformance report of the last run in this process (nil before one).
func LastReport() *report.ConformanceReport { return lastReport }
