package v1alpha1

import _ "embed"

// schemaJSON is the JSON Schema (draft 2020-12) of a ConformanceReport of this version: schema.json beside this file.
// A unit test in package report keeps it in step with the types, and validates generated reports against it.
//
//go:embed schema.json
var schemaJSON []byte

// SchemaID is the schema's $id.
const SchemaID = "https://meshconform.io/schemas/v1alpha1/conformance-report.json"

// JSONSchema returns the JSON Schema of a ConformanceReport of this version (a copy).
func JSONSchema() []byte { return append([]byte(nil), schemaJSON...) }
