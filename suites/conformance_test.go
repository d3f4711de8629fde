//go:build conformance

package suites

import (
	"context"
	"fmt"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshconform/meshconform/framework/artifacts"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
)

// TestConformance runs the suites under `go test` or the Ginkgo CLI, against the environment in $MESHCONFORM_HOME
// (default ~/.meshconform): `ginkgo --tags conformance --label-filter area:trust ./suites`. With
// $MESHCONFORM_REPORT_DIR it writes conformance-report.yaml, report.html and, on failure, artifacts/ there; Ginkgo's
// --junit-report and --json-report write the Ginkgo reports.
func TestConformance(t *testing.T) {
	c, err := Prepare(ConfigFromEnv())
	if err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "meshconform conformance")
	// After RunSpecs returned, so the suite's deadline does not cut the artifact collection short. Only the process
	// that saw the whole run (the first of `ginkgo -p`) has a result.
	res := Finished()
	if res == nil || c.ReportDir == "" {
		return
	}
	o := report.WriteOptions{Out: c.Out, Artifacts: func(ctx context.Context, st *env.State, dir string) error {
		return artifacts.Collect(ctx, st, dir, artifacts.Options{Out: c.Out})
	}}
	if err := report.Write(context.Background(), c.ReportDir, res.Run, o); err != nil {
		fmt.Fprintf(os.Stdout, "reports: %v\n", err)
	}
}
