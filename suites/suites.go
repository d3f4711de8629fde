// Package suites holds the conformance specs, one file per area: trust, discovery, gateway, loadbalancing, isolation
// and the install guide's own verification (doc-fidelity). They read the environment file `meshconform up` wrote
// and talk to the live clusters; they never provision. Each spec is a Ginkgo node over a check of package checks,
// labelled with its area, the topology features it exercises and the data plane it needs, and skipped with a reason
// ("not applicable: ..." or "cannot run here: ...") where the topology or this machine rules it out.
//
// The specs run inside the meshconform binary (`meshconform test`, Run) or with the Ginkgo CLI
// (`ginkgo --tags conformance ./suites`, configured by MESHCONFORM_HOME and MESHCONFORM_REPORT_DIR).
package suites

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// Config is one run of the suites.
type Config struct {
	// StateDir holds the environment file (default ~/.meshconform).
	StateDir string
	// ReportDir receives junit.xml, ginkgo-report.json, conformance-report.yaml, report.html and, on failure,
	// artifacts/ of every cluster. Empty: no files.
	ReportDir string
	Timeouts  Timeouts
	// LabelFilter and Focus select specs as Ginkgo's --label-filter and --focus do.
	LabelFilter string
	Focus       []string
	// FalseAlarm is the load-balancing verdict's false-alarm rate (default and maximum 1e-6).
	FalseAlarm float64
	// Command reproduces the run, for the report; TopologyFile is the topology it was given.
	Command      []string
	TopologyFile string
	// Version is meshconform's version, for the report.
	Version string
	// Verbose prints every spec and its steps as it runs.
	Verbose bool
	// NoArtifacts skips the per-cluster dump on failure.
	NoArtifacts bool
	// Out receives progress lines of the report writing (Ginkgo writes to stdout itself).
	Out io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		c.StateDir = env.DefaultDir()
	}
	if c.FalseAlarm == 0 {
		c.FalseAlarm = 1e-6
	}
	if c.FalseAlarm < 0 || c.FalseAlarm > 1e-6 {
		return c, fmt.Errorf("false-alarm rate %g: must be in (0, 1e-6]", c.FalseAlarm)
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	t, err := c.Timeouts.WithDefaults()
	c.Timeouts = t
	return c, err
}

var (
	// cfg is the running configuration: set by Run, or from the environment under the Ginkgo CLI.
	cfg Config
	// mesh is the environment under test, connected in BeforeSuite.
	mesh *checks.Mesh
	// started is when the suite began, for the report.
	started time.Time
)

// ConfigFromEnv is the configuration of a run under `go test` or the Ginkgo CLI.
func ConfigFromEnv() Config {
	return Config{StateDir: os.Getenv("MESHCONFORM_HOME"), ReportDir: os.Getenv("MESHCONFORM_REPORT_DIR"),
		Command: []string{"ginkgo", "--tags", "conformance", "./suites"}}
}

// Prepare sets the configuration the specs use; RunSpecs follows. The Ginkgo-CLI entry point calls it itself.
func Prepare(c Config) (Config, error) {
	c, err := c.withDefaults()
	if err != nil {
		return c, err
	}
	if c.ReportDir != "" {
		if err := os.MkdirAll(c.ReportDir, 0o755); err != nil {
			return c, fmt.Errorf("report directory: %w", err)
		}
		// A previous run's files would be mistaken for this run's (artifacts of a failure that no longer exists).
		for _, f := range []string{report.JUnitFile, report.GinkgoJSONFile, report.YAMLFile, report.HTMLFile, report.ArtifactsDir} {
			if err := os.RemoveAll(filepath.Join(c.ReportDir, f)); err != nil {
				return c, fmt.Errorf("clear the previous report: %w", err)
			}
		}
	}
	cfg = c
	return c, nil
}

// ErrNoEnvironment is returned when there is nothing to test.
var ErrNoEnvironment = errors.New("no environment to test")

// Run runs the suites against the environment in c.StateDir and returns whether every spec that ran passed. It
// can be called once per process (a Ginkgo rule).
func Run(c Config) (bool, error) {
	c, err := Prepare(c)
	if err != nil {
		return false, err
	}
	if _, err := env.Load(c.StateDir); err != nil {
		return false, fmt.Errorf("%w: %v", ErrNoEnvironment, err)
	}
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.LabelFilter = c.LabelFilter
	suiteConfig.FocusStrings = c.Focus
	suiteConfig.Timeout = c.Timeouts.Suite
	reporterConfig.Verbose = c.Verbose
	reporterConfig.FullTrace = false
	if c.ReportDir != "" {
		reporterConfig.JUnitReport = filepath.Join(c.ReportDir, "junit.xml")
		reporterConfig.JSONReport = filepath.Join(c.ReportDir, "ginkgo-report.json")
	}
	RegisterFailHandler(Fail)
	t := &testingT{}
	inProcess = true
	passed := RunSpecs(t, "meshconform conformance", suiteConfig, reporterConfig)
	writeReports(finalReport)
	return passed && !t.failed, nil
}

// testingT is what RunSpecs needs from a *testing.T outside `go test`.
type testingT struct{ failed bool }

func (t *testingT) Fail() { t.failed = true }

var _ = BeforeSuite(func() {
	started = time.Now()
	st, err := env.Load(cfg.StateDir)
	Expect(err).NotTo(HaveOccurred(), "load the environment: run `meshconform up` first (state directory %s)", cfg.StateDir)
	mesh, err = checks.Connect(st)
	Expect(err).NotTo(HaveOccurred())
	// An interrupted earlier run can leave the trust spec's STRICT mTLS behind; proxyless clients use Istio mTLS.
	for _, name := range mesh.Names() {
		Expect(workload.RemoveRequireMTLS(context.Background(), mesh.Clients[name], mesh.Namespace)).To(Succeed())
	}
	ensureClientMTLS(context.Background())
	GinkgoWriter.Printf("testing %s: %d clusters, Istio %s via %s, %s data plane\n", st.Topology.Name,
		len(st.Clusters), st.Mesh.IstioVersion, st.Mesh.Installer, st.Mesh.DataPlane)
})

// retry runs a check until it passes or the timeout ends, failing with the check's last diagnosis; a final
// diagnosis (a verdict waiting cannot change) fails at once.
func retry(ctx SpecContext, timeout time.Duration, check func() error) {
	GinkgoHelper()
	Eventually(ctx, func() error {
		err := check()
		var f *checks.Failure
		if errors.As(err, &f) && f.Final {
			return StopTrying("final verdict").Wrap(err)
		}
		return err
	}).WithTimeout(timeout).WithPolling(2 * time.Second).Should(Succeed())
}

// afterSuite are extra consumers of the final Ginkgo report (tests use it to inspect the spec tree).
var afterSuite []func(Report)

// finalReport is the run's Ginkgo report. In-process runs write the reports after RunSpecs returns: inside
// ReportAfterSuite, the suite's deadline would cut the artifact collection short exactly when a run timed out.
var (
	finalReport Report
	inProcess   bool
)

var _ = ReportAfterSuite("meshconform reports", func(r Report) {
	for _, f := range afterSuite {
		f(r)
	}
	finalReport = r
	if !inProcess {
		writeReports(r)
	}
})
