package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// collector records the artifact collections Write asks for.
type collector struct {
	calls []string
	st    *env.State
}

func (c *collector) collect(_ context.Context, st *env.State, dir string) error {
	c.calls = append(c.calls, dir)
	c.st = st
	return os.MkdirAll(filepath.Join(dir, "cluster1"), 0o755)
}

// run is a finished run of two specs (the second with the spec label, the first without), passed or failed.
func run(t *testing.T, failed bool) Run {
	t.Helper()
	outcome, msg := types.SpecStatePassed, ""
	if failed {
		outcome, msg = types.SpecStateFailed, "calls stayed in cluster1"
	}
	r := types.Report{SuiteDescription: "meshconform conformance", SpecReports: types.SpecReports{
		it("root", types.SpecStatePassed, labels("trust"), ""),
		it("lb", outcome, labels("loadbalancing"), msg),
	}}
	r.SpecReports[1].LeafNodeLabels = []string{v1alpha1.SpecLabel("lb-spread")}
	st := state()
	return Run{Ginkgo: &r, Conformance: Build(r, st, Options{}), State: st}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteOnSuccessCollectsNoArtifacts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	var c collector
	if err := Write(context.Background(), dir, run(t, false), WriteOptions{Artifacts: c.collect}); err != nil {
		t.Fatal(err)
	}
	if want := sortedCopy([]string{GinkgoJSONFile, JUnitFile, YAMLFile, HTMLFile}); !slices.Equal(files(t, dir), want) {
		t.Errorf("files %v, want %v", files(t, dir), want)
	}
	if len(c.calls) != 0 {
		t.Errorf("artifacts collected after a passing run: %v", c.calls)
	}
	cr, err := ReadYAML(filepath.Join(dir, YAMLFile))
	if err != nil || cr.Result != v1alpha1.ResultPartial {
		// Areas without a spec in this run make it partial, which passes.
		t.Errorf("conformance report: %v, %+v", err, cr)
	}
}

func TestWriteOnFailureCollectsArtifacts(t *testing.T) {
	dir := t.TempDir()
	var c collector
	var out bytes.Buffer
	r := run(t, true)
	if err := Write(context.Background(), dir, r, WriteOptions{Artifacts: c.collect, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, ArtifactsDir); len(c.calls) != 1 || c.calls[0] != want || c.st != r.State {
		t.Errorf("artifact collections %v (state %p), want one into %s of %p", c.calls, c.st, want, r.State)
	}
	if !strings.Contains(out.String(), "a spec failed: collecting the state of every cluster into "+filepath.Join(dir, ArtifactsDir)) {
		t.Errorf("progress: %q", out.String())
	}
	if !slices.Contains(files(t, dir), YAMLFile) || !slices.Contains(files(t, dir), ArtifactsDir) {
		t.Errorf("files %v", files(t, dir))
	}

	// --no-artifacts, or an environment that could not be read: nothing to collect.
	for name, o := range map[string]func(*Run, *WriteOptions){
		"no collector": func(_ *Run, w *WriteOptions) { w.Artifacts = nil },
		"no state":     func(r *Run, _ *WriteOptions) { r.State = nil },
	} {
		var c collector
		r, w := run(t, true), WriteOptions{Artifacts: c.collect}
		o(&r, &w)
		if err := Write(context.Background(), t.TempDir(), r, w); err != nil || len(c.calls) != 0 {
			t.Errorf("%s: err %v, collections %v", name, err, c.calls)
		}
	}
}

// Under the Ginkgo CLI, Ginkgo's reporters write junit.xml and ginkgo-report.json; a dry run has no conformance
// report.
func TestWriteWithoutGinkgoOrConformanceReport(t *testing.T) {
	dir := t.TempDir()
	r := run(t, false)
	r.Ginkgo = nil
	if err := Write(context.Background(), dir, r, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{YAMLFile, HTMLFile}) {
		t.Errorf("without a Ginkgo report: %v", got)
	}
	dir = t.TempDir()
	r = run(t, true)
	r.Conformance = nil
	var c collector
	if err := Write(context.Background(), dir, r, WriteOptions{Artifacts: c.collect}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{GinkgoJSONFile, JUnitFile}) || len(c.calls) != 0 {
		t.Errorf("dry run: %v, collections %v", got, c.calls)
	}
}

// junit.xml names specs as Ginkgo does ("[It] <text> [labels]"), without the short-name label; the Ginkgo JSON keeps
// every label.
func TestWriteJUnitNamesLeaveOutTheSpecLabel(t *testing.T) {
	dir := t.TempDir()
	if err := Write(context.Background(), dir, run(t, false), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Cases []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite>testcase"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range suites.Cases {
		names = append(names, c.Name)
	}
	if want := []string{"[It] conformance root [area:trust]", "[It] conformance lb [area:loadbalancing]"}; !slices.Equal(names, want) {
		t.Errorf("junit names %q, want %q", names, want)
	}
	var back []types.Report
	b, _ = os.ReadFile(filepath.Join(dir, GinkgoJSONFile))
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 {
		t.Fatalf("ginkgo json: %v", err)
	}
	if got := back[0].SpecReports[1].Labels(); !slices.Equal(got, []string{"area:loadbalancing", "spec:lb-spread"}) {
		t.Errorf("ginkgo json labels %v", got)
	}
}

func TestClearRemovesOnlyReportFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{JUnitFile, YAMLFile, "notes.txt", filepath.Join(ArtifactsDir, "cluster1", "pods.txt")} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Clear(dir); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"notes.txt"}) {
		t.Errorf("after Clear: %v", got)
	}
	if err := Clear(filepath.Join(dir, "new")); err != nil || !slices.Contains(files(t, dir), "new") {
		t.Errorf("Clear of a missing directory: %v", err)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
