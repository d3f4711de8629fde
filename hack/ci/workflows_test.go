package ci

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/meshconform/meshconform/framework/istio/installer"
)

// repoRoot is the repository's top directory (this package is hack/ci).
const repoRoot = "../.."

// lint runs actionlint's rules (shellcheck and pyflakes are left out: they are other tools, not installed here) over
// files of the repository's project (its .github/actionlint.yaml, if any, applies).
func lint(t *testing.T, files ...string) []*actionlint.Error {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: root})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFiles(files, project)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestWorkflowsPassActionlint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows found under %s/.github/workflows (%v)", repoRoot, err)
	}
	for _, e := range lint(t, files...) {
		t.Errorf("actionlint: %s", e)
	}
}

// The check can fail: a workflow broken on purpose (testdata/broken-workflow.yml) yields the findings it was broken
// for.
func TestActionlintFindsABrokenWorkflow(t *testing.T) {
	errs := lint(t, filepath.Join("testdata", "broken-workflow.yml"))
	var kinds []string
	for _, e := range errs {
		kinds = append(kinds, e.Kind)
		t.Logf("expected finding: %s", e)
	}
	for _, want := range []string{
		"permissions", // an unknown permission scope
		"expression",  // a matrix key that does not exist
		"job-needs",   // a job that needs one that does not exist
		"action",      // an action version too old to run on GitHub
		"syntax-check",
	} {
		if !slices.Contains(kinds, want) {
			t.Errorf("actionlint found no %q problem in the broken workflow (found: %v)", want, kinds)
		}
	}
}

// The Istio releases the conformance matrix runs include the one meshconform's messages tell users to run the Envoy
// specs with, and the manual run's default is the same list.
func TestConformanceMatrixRunsTheAdvisedRelease(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "conformance.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	input := regexp.MustCompile(`(?m)^\s+default: '(\[.*\])'$`).FindStringSubmatch(text)
	matrix := regexp.MustCompile(`(?m)^\s+istio: \$\{\{ fromJSON\(inputs\.istio-versions \|\| '(\[.*\])'\) \}\}$`).FindStringSubmatch(text)
	if input == nil || matrix == nil {
		t.Fatalf("conformance.yml: no istio-versions input default or no istio matrix axis from it")
	}
	if input[1] != matrix[1] {
		t.Fatalf("the matrix's default %s differs from the input's %s", matrix[1], input[1])
	}
	var versions []string
	if err := json.Unmarshal([]byte(input[1]), &versions); err != nil {
		t.Fatalf("istio-versions default %s: %v", input[1], err)
	}
	if len(versions) != 2 || !slices.Contains(versions, installer.ExampleRelease) {
		t.Fatalf("the matrix runs Istio %v: want the two newest minor releases, %s among them", versions, installer.ExampleRelease)
	}
	if minor := func(v string) string { return v[:strings.LastIndex(v, ".")] }; minor(versions[0]) == minor(versions[1]) {
		t.Fatalf("the matrix runs Istio %v: two patch releases of one minor", versions)
	}
}
