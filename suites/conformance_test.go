//go:build conformance

package suites

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestConformance runs the suites under `go test` or the Ginkgo CLI, against the environment in $MESHCONFORM_HOME
// (default ~/.meshconform): `ginkgo --tags conformance --label-filter area:trust ./suites`.
func TestConformance(t *testing.T) {
	if _, err := Prepare(ConfigFromEnv()); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "meshconform conformance")
}
