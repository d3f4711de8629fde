package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Files of a report directory.
const (
	JUnitFile      = "junit.xml"
	GinkgoJSONFile = "ginkgo-report.json"
	YAMLFile       = "conformance-report.yaml"
	HTMLFile       = "report.html"
	ArtifactsDir   = "artifacts"
)

// Run is a finished conformance run, what Write writes.
type Run struct {
	// Ginkgo is the run's whole Ginkgo report (suite nodes included). Set, Write writes junit.xml and
	// ginkgo-report.json from it; nil when Ginkgo's own reporters write them (`ginkgo --junit-report`).
	Ginkgo *types.Report
	// Conformance is the conformance report (Build); nil for a dry run, which writes no conformance report.
	Conformance *v1alpha1.ConformanceReport
	// State is the environment that was tested; nil if it could not be read (no artifacts then).
	State *env.State
}

// WriteOptions say how Write collects artifacts and where it reports progress.
type WriteOptions struct {
	// Artifacts dumps every cluster of st into dir (package artifacts' Collect). Write calls it only when the run
	// failed and the state is known; nil collects nothing (`--no-artifacts`).
	Artifacts func(ctx context.Context, st *env.State, dir string) error
	// Out receives progress lines (artifact collection); nil discards them.
	Out io.Writer
}

// Write writes a finished run into dir: junit.xml and ginkgo-report.json (when r.Ginkgo is set),
// conformance-report.yaml and report.html, and, when the run failed, every cluster's artifacts under artifacts/.
// It writes all it can and returns the joined errors of the report files; a partial artifact collection is reported
// on o.Out, not returned, since the reports it accompanies are complete.
func Write(ctx context.Context, dir string, r Run, o WriteOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	var errs []error
	if r.Ginkgo != nil {
		// Ginkgo's own naming (as `ginkgo --junit-report` writes it), so CI keeps its test history.
		errs = append(errs, writeGinkgoReports(*r.Ginkgo, dir, reporters.JunitReportConfig{}))
	}
	cr := r.Conformance
	if cr == nil {
		return errors.Join(errs...)
	}
	errs = append(errs, WriteYAML(cr, filepath.Join(dir, YAMLFile)), WriteHTML(cr, filepath.Join(dir, HTMLFile)))
	if !cr.Failed() || o.Artifacts == nil || r.State == nil {
		return errors.Join(errs...)
	}
	adir := filepath.Join(dir, ArtifactsDir)
	fmt.Fprintf(out, "a spec failed: collecting the state of every cluster into %s\n", adir)
	began := time.Now()
	if err := o.Artifacts(ctx, r.State, adir); err != nil {
		fmt.Fprintf(out, "artifacts (partial): %v\n", err)
	}
	fmt.Fprintf(out, "artifacts collected in %s\n", time.Since(began).Round(time.Second))
	return errors.Join(errs...)
}

// Clear removes a previous run's report files from dir (creating it), so they are not mistaken for this run's
// (artifacts of a failure that no longer exists). Run it before the suites start.
func Clear(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	for _, f := range []string{JUnitFile, GinkgoJSONFile, YAMLFile, HTMLFile, ArtifactsDir} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("clear the previous report: %w", err)
		}
	}
	return nil
}

// WriteYAML writes the report as YAML, creating the directory.
func WriteYAML(cr *v1alpha1.ConformanceReport, path string) error {
	b, err := yaml.Marshal(cr)
	if err != nil {
		return fmt.Errorf("encode conformance report: %w", err)
	}
	return writeFile(path, b)
}

// ReadYAML reads a report written by WriteYAML (e.g. to render its HTML again).
func ReadYAML(path string) (*v1alpha1.ConformanceReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read conformance report: %w", err)
	}
	var cr v1alpha1.ConformanceReport
	if err := yaml.UnmarshalStrict(b, &cr); err != nil {
		return nil, fmt.Errorf("parse conformance report %s: %w", path, err)
	}
	if cr.APIVersion != v1alpha1.APIVersion || cr.Kind != v1alpha1.Kind {
		return nil, fmt.Errorf("%s: not a conformance report (apiVersion %q kind %q)", path, cr.APIVersion, cr.Kind)
	}
	return &cr, nil
}

// WriteGinkgoReports writes junit.xml and ginkgo-report.json into dir, JUnit names without Ginkgo's "[It]" (they
// read better in CI UIs; suite nodes keep theirs so a failed BeforeSuite shows). Write keeps Ginkgo's naming instead.
func WriteGinkgoReports(r types.Report, dir string) error {
	return writeGinkgoReports(r, dir, reporters.JunitReportConfig{OmitLeafNodeType: true})
}

func writeGinkgoReports(r types.Report, dir string, junit reporters.JunitReportConfig) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	var errs []error
	if err := reporters.GenerateJUnitReportWithConfig(WithoutSpecLabels(r), filepath.Join(dir, JUnitFile), junit); err != nil {
		errs = append(errs, fmt.Errorf("write %s: %w", JUnitFile, err))
	}
	if err := reporters.GenerateJSONReport(r, filepath.Join(dir, GinkgoJSONFile)); err != nil {
		errs = append(errs, fmt.Errorf("write %s: %w", GinkgoJSONFile, err))
	}
	return errors.Join(errs...)
}

// WithoutSpecLabels is r with the specs' "spec:<short name>" labels left out. Ginkgo puts every label into a JUnit
// test name; the short-name label came after the names CI systems track a spec's history by, so JUnit leaves it out.
func WithoutSpecLabels(r types.Report) types.Report {
	keep := func(labels []string) []string {
		var out []string
		for _, l := range labels {
			if !strings.HasPrefix(l, v1alpha1.SpecLabelPrefix) {
				out = append(out, l)
			}
		}
		return out
	}
	specs := make(types.SpecReports, len(r.SpecReports))
	for i, s := range r.SpecReports {
		if len(s.ContainerHierarchyLabels) > 0 {
			c := make([][]string, len(s.ContainerHierarchyLabels))
			for j, l := range s.ContainerHierarchyLabels {
				c[j] = keep(l)
			}
			s.ContainerHierarchyLabels = c
		}
		if len(s.LeafNodeLabels) > 0 {
			s.LeafNodeLabels = keep(s.LeafNodeLabels)
		}
		specs[i] = s
	}
	r.SpecReports = specs
	return r
}

// WriteAll builds the conformance report and writes every report file into dir: junit.xml, ginkgo-report.json,
// conformance-report.yaml and report.html. It writes all it can and returns the report with the joined errors.
func WriteAll(r types.Report, st *env.State, o Options, dir string) (*v1alpha1.ConformanceReport, error) {
	cr := Build(r, st, o)
	errs := []error{WriteGinkgoReports(r, dir)}
	errs = append(errs, WriteYAML(cr, filepath.Join(dir, YAMLFile)), WriteHTML(cr, filepath.Join(dir, HTMLFile)))
	return cr, errors.Join(errs...)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	// Write then rename, so a reader (or a CI upload) never sees half a report.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
