package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/suites"
)

// goodReport writes the report of a multi-primary run in which every catalogued spec passed but the install guide's
// check, which could not run here.
func goodReport(t *testing.T) (string, []byte) {
	t.Helper()
	topo, err := topology.Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	st := topo.NewState(t.TempDir(), "test")
	st.Mesh = &env.Mesh{Installer: "istioctl", IstioVersion: "1.31-dev", DataPlane: env.DataPlaneProxyless}
	var r types.Report
	for _, s := range suites.Catalogue {
		sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{suites.AreaTitles[s.Area]},
			ContainerHierarchyLabels: [][]string{{s.Area.Label()}}, LeafNodeText: s.Description, LeafNodeLabels: s.Labels(),
			State: types.SpecStatePassed}
		if s.ShortName == "doc-fidelity-helloworld" {
			sr.State, sr.Failure.Message = types.SpecStateSkipped, suites.CannotRunHere("no Envoy").SkipMessage()
		}
		r.SpecReports = append(r.SpecReports, sr)
	}
	cr := report.Build(r, st, report.Options{Profiles: suites.Profiles, Command: []string{"meshconform", "run"}})
	path := filepath.Join(t.TempDir(), report.YAMLFile)
	if err := report.WriteYAML(cr, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// run runs meshconform with args and returns its exit code and what it printed.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCommand()
	root.SetArgs(args)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	if err != nil {
		out.WriteString("meshconform: " + err.Error() + "\n")
	}
	return exitCode(err), out.String()
}

func TestReportValidate(t *testing.T) {
	good, content := goodReport(t)
	write := func(name, s string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := string(content)
	// Three corruptions at once: an unknown profile result, a count that contradicts the spec list, an unknown field.
	for _, r := range [][2]string{{"  result: partial\n  shape:", "  result: great\n  shape:"}, {"      passed: 6\n", "      passed: 7\n"}} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("fixture lacks %q:\n%s", r[0], s)
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	bad := write("bad.yaml", s+"extra: 1\n")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a report Build wrote", []string{"report", "validate", good}, exitOK,
			[]string{good + ": valid ConformanceReport (meshconform.io/v1alpha1), result partial",
				"profile MultiPrimary: partial (core: 6/6 passed; extended: 1/2 passed, 1 could not run here)"}},
		{"every problem, each with its JSON path", []string{"report", "validate", bad}, exitFailed,
			[]string{bad + ": $: additional properties 'extra' not allowed",
				bad + ": $.profiles[0].result: value must be one of",
				bad + ": $.profiles[0].core.statistics: count 7 specs, but specs lists 6",
				bad + ": $.profiles[0].result: \"great\", but core success and extended partial make it partial",
				"invalid conformance report: "}},
		{"not YAML", []string{"report", "validate", write("x.yaml", "apiVersion: [unclosed\n")}, exitFailed, []string{"$: neither YAML nor JSON"}},
		{"another kind of file", []string{"report", "validate", write("pod.yaml", "apiVersion: v1\nkind: Pod\n")}, exitFailed,
			[]string{"$.kind: value must be 'ConformanceReport'", "$: missing properties"}},
		{"no such file", []string{"report", "validate", filepath.Join(t.TempDir(), "nope.yaml")}, exitUsage, []string{"no such file"}},
		{"a directory", []string{"report", "validate", t.TempDir()}, exitUsage, []string{"report validate:"}},
		{"no file", []string{"report", "validate"}, exitUsage, []string{"accepts 1 arg(s), received 0"}},
		{"two files", []string{"report", "validate", good, good}, exitUsage, []string{"accepts 1 arg(s), received 2"}},
		{"an unknown flag", []string{"report", "validate", "--strict", good}, exitUsage, []string{"unknown flag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
