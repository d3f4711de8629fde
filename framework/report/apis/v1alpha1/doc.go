// Package v1alpha1 is the schema of meshconform's conformance report (`conformance-report.yaml`), modelled on
// gateway-api's `apis/v1` ConformanceReport, and the vocabulary the specs and the report share: the areas, the
// topology features and needs a spec declares, how they are written as Ginkgo labels, how a skipped spec says why,
// and the conformance profiles a report gives results for.
//
// It holds types and constants only, and the same schema as a JSON Schema (schema.json, JSONSchema) for readers in
// other languages; package report builds a ConformanceReport from a Ginkgo run, writes it and validates report files
// (`meshconform report validate`). A change that would alter what a reader of an existing report sees belongs in a
// new version of this package; fields may be added (as profiles were).
package v1alpha1

// APIVersion and Kind identify a conformance report.
const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "ConformanceReport"
)
