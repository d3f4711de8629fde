package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/env"
)

// WriteYAML writes the report as YAML, creating the directory.
func (cr *ConformanceReport) WriteYAML(path string) error {
	b, err := yaml.Marshal(cr)
	if err != nil {
		return fmt.Errorf("encode conformance report: %w", err)
	}
	return writeFile(path, b)
}

// ReadYAML reads a report written by WriteYAML (e.g. to render its HTML again).
func ReadYAML(path string) (*ConformanceReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read conformance report: %w", err)
	}
	var cr ConformanceReport
	if err := yaml.UnmarshalStrict(b, &cr); err != nil {
		return nil, fmt.Errorf("parse conformance report %s: %w", path, err)
	}
	if cr.APIVersion != APIVersion || cr.Kind != Kind {
		return nil, fmt.Errorf("%s: not a conformance report (apiVersion %q kind %q)", path, cr.APIVersion, cr.Kind)
	}
	return &cr, nil
}

// WriteGinkgoReports writes junit.xml and ginkgo-report.json into dir. The suites may instead have Ginkgo write them
// (ReporterConfig.JUnitReport/JSONReport); this is for callers holding a types.Report (ReportAfterSuite, `run`).
func WriteGinkgoReports(r types.Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	var errs []error
	// The spec name without "[It]" reads better in CI UIs; suite nodes keep theirs so a failed BeforeSuite shows.
	if err := reporters.GenerateJUnitReportWithConfig(r, filepath.Join(dir, JUnitFile),
		reporters.JunitReportConfig{OmitLeafNodeType: true}); err != nil {
		errs = append(errs, fmt.Errorf("write %s: %w", JUnitFile, err))
	}
	if err := reporters.GenerateJSONReport(r, filepath.Join(dir, GinkgoJSONFile)); err != nil {
		errs = append(errs, fmt.Errorf("write %s: %w", GinkgoJSONFile, err))
	}
	return errors.Join(errs...)
}

// WriteAll builds the conformance report and writes every report file into dir: junit.xml, ginkgo-report.json,
// conformance-report.yaml and report.html. It writes all it can and returns the report with the joined errors.
func WriteAll(r types.Report, st *env.State, o Options, dir string) (*ConformanceReport, error) {
	cr := Build(r, st, o)
	errs := []error{WriteGinkgoReports(r, dir)}
	errs = append(errs, cr.WriteYAML(filepath.Join(dir, YAMLFile)), cr.WriteHTML(filepath.Join(dir, HTMLFile)))
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
