// Package v1alpha1 is the schema of meshconform's conformance report (`conformance-report.yaml`), modelled on
// gateway-api's `apis/v1` ConformanceReport, and the vocabulary the specs and the report share: the areas, the
// topology features and needs a spec declares, how they are written as Ginkgo labels, and how a skipped spec says why.
//
// It holds types and constants only; package report builds a ConformanceReport from a Ginkgo run and writes it. A
// change that would alter what a reader of an existing report sees belongs in a new version of this package.
package v1alpha1

// APIVersion and Kind identify a conformance report.
const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "ConformanceReport"
)
