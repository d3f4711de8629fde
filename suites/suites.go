// Package suites holds the conformance specs and runs them. Each spec is a Spec value in its own file (named after
// its short name, e.g. trust_shared_root.go) listed once in Catalogue (catalogue.go); tree.go generates the Ginkgo
// tree from the catalogue: one container per area, one It per spec, labels from the spec's declared area, features,
// needs and data plane, plus "spec:<short name>". A spec's applicability rule decides, from the environment, whether
// it runs, does not apply ("not applicable: ...") or cannot run here ("cannot run here: ..."); the skip message comes
// from that rule, in one place (skip). The checks themselves live in package checks.
//
// The specs read the environment file `meshconform up` wrote and talk to the live clusters; they never provision.
// They run inside the meshconform binary (`meshconform test`: Run returns the result and the caller writes it with
// report.Write) or with the Ginkgo CLI (`ginkgo --tags conformance ./suites`, configured by MESHCONFORM_HOME and
// MESHCONFORM_REPORT_DIR; its entry point writes the reports itself).
package suites

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
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
	// ReportDir is where the caller writes the reports (report.Write): junit.xml, ginkgo-report.json,
	// conformance-report.yaml, report.html and, on failure, artifacts/ of every cluster. Prepare clears a previous
	// run's files from it. Empty: no files.
	ReportDir string
	Timeouts  Timeouts
	// LabelFilter and Focus select specs as Ginkgo's --label-filter and --focus do.
	LabelFilter string
	Focus       []string
	// Disruptive: whether the disruptive specs run (default: on environments meshconform created, not on brought
	// clusters).
	Disruptive Disruption
	// FalseAlarm is the load-balancing verdict's false-alarm rate (default and maximum 1e-6).
	FalseAlarm float64
	// Command reproduces the run, for the report; TopologyFile is the topology it was given.
	Command      []string
	TopologyFile string
	// Version is meshconform's version, for the report.
	Version string
	// Verbose prints every spec and its steps as it runs.
	Verbose bool
	// NoArtifacts tells the report writer to skip the per-cluster dump on failure.
	NoArtifacts bool
	// Out receives the report writer's progress lines (Ginkgo writes to stdout itself).
	Out io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		c.StateDir = env.DefaultDir()
	}
	if c.FalseAlarm == 0 {
		c.FalseAlarm = 1e-6
	}
	if !(c.FalseAlarm > 0 && c.FalseAlarm <= 1e-6) { // also refuses NaN
		return c, fmt.Errorf("false-alarm rate %g: must be in (0, 1e-6]", c.FalseAlarm)
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	switch c.Disruptive {
	case DisruptionAuto, DisruptionOn, DisruptionOff:
	default:
		return c, fmt.Errorf("disruptive %q: use on, off or empty (auto)", c.Disruptive)
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
		if err := report.Clear(c.ReportDir); err != nil {
			return c, err
		}
	}
	cfg = c
	return c, nil
}

// ErrNoEnvironment is returned when there is nothing to test.
var ErrNoEnvironment = errors.New("no environment to test")

// Result is a finished run of the suites: whether every spec that ran passed, and what report.Write writes.
type Result struct {
	Passed bool
	report.Run
}

// Run runs the suites against the environment in c.StateDir and returns the result, which the caller writes
// (report.Write into c.ReportDir). It can be called once per process (a Ginkgo rule).
func Run(c Config) (*Result, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	// Before the report directory is cleared: a mistyped state directory must not cost the last run's reports.
	if _, err := env.Load(c.StateDir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoEnvironment, err)
	}
	if c, err = Prepare(c); err != nil {
		return nil, err
	}
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.LabelFilter = c.LabelFilter
	suiteConfig.FocusStrings = c.Focus
	suiteConfig.Timeout = c.Timeouts.Suite
	reporterConfig.Verbose = c.Verbose
	reporterConfig.FullTrace = false
	// The whole Ginkgo report, for junit.xml and ginkgo-report.json. Registered after "meshconform reports", it sees
	// that node too, as Ginkgo's own reporters (which ran last) did.
	var whole types.Report
	ReportAfterSuite("meshconform ginkgo report", func(r Report) { whole = r })
	RegisterFailHandler(Fail)
	t := &testingT{}
	passed := RunSpecs(t, "meshconform conformance", suiteConfig, reporterConfig)
	// Built after RunSpecs returned, so the caller's artifact collection is not bound by the suite's deadline.
	res := Finished()
	if res == nil {
		res = &Result{}
	}
	res.Passed = passed && !t.failed
	res.Ginkgo = &whole
	return res, nil
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
	ensureClientMTLS(context.Background(), mesh)
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

// finalReport is the run's Ginkgo report, kept for Finished. The reports are built and written after RunSpecs
// returns: inside ReportAfterSuite, the suite's deadline would cut the artifact collection short exactly when a run
// timed out.
var finalReport Report

var _ = ReportAfterSuite("meshconform reports", func(r Report) {
	for _, f := range afterSuite {
		f(r)
	}
	finalReport = r
})

// Finished is the result of the run that ended in this process, its conformance report built from the Ginkgo
// report (none for a dry run); nil where no run ended here (the other processes of `ginkgo -p`, which do not see
// the whole run). Result.Ginkgo is unset: under the Ginkgo CLI, its --junit-report and --json-report write those.
func Finished() *Result {
	r := finalReport
	if r.SuiteDescription == "" {
		return nil
	}
	res := &Result{Passed: r.SuiteSucceeded}
	st, err := env.Load(cfg.StateDir)
	if err == nil {
		res.State = st // else the report says the environment was missing
	}
	if r.SuiteConfig.DryRun {
		return res
	}
	began := started
	if began.IsZero() {
		began = r.StartTime
	}
	res.Conformance = report.Build(r, res.State, report.Options{Command: cfg.Command, TopologyFile: cfg.TopologyFile,
		Version: cfg.Version, Started: began, TestDuration: time.Since(began), Profiles: Profiles})
	return res
}
