package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Definitions are what a report file is checked against beyond its schema: the specs and profiles of the meshconform
// that checks it (package suites provides them, so this package never imports the suites).
type Definitions struct {
	Specs    []SpecDefinition
	Profiles []ProfileDefinition
}

// SpecDefinition is one spec as the reports name it.
type SpecDefinition struct {
	ShortName string
	// Name is the spec's full name in the reports and JUnit: "<area title> <description>".
	Name string
	Area v1alpha1.Area
}

// Problem is one thing wrong with a report file, at its JSON path (e.g. $.profiles[0].core.result).
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Validate checks a conformance report file's content (YAML, or JSON, which is YAML too): against the JSON Schema of
// v1alpha1 (v1alpha1.JSONSchema), then, if it decodes into the typed report, against the rules the schema cannot
// say (Check; also when the schema found unknown fields or missing ones, not when a value has the wrong type). It
// returns every problem found, schema problems first; none means valid. The report is returned whenever it decodes,
// valid or not.
func Validate(content []byte, d *Definitions) (*v1alpha1.ConformanceReport, []Problem) {
	js, err := yaml.YAMLToJSON(content)
	if err != nil {
		return nil, []Problem{{Path: "$", Message: "neither YAML nor JSON: " + err.Error()}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, []Problem{{Path: "$", Message: "not JSON: " + err.Error()}}
	}
	sch, err := compiledSchema()
	if err != nil { // the embedded schema is tested; this is a build that broke it
		return nil, []Problem{{Path: "$", Message: "the report schema does not compile: " + err.Error()}}
	}
	var problems []Problem
	if err := sch.Validate(inst); err != nil {
		problems = schemaProblems(inst, err)
	}
	var cr v1alpha1.ConformanceReport
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cr); err != nil {
		if len(problems) == 0 { // the schema should have said why; say it anyway
			problems = append(problems, Problem{Path: "$", Message: "does not decode as a ConformanceReport: " + err.Error()})
		}
		// Unknown fields (which the schema reported) need not hide the other problems: decode what is known. A value
		// of the wrong type does stop here, with the schema's problem.
		cr = v1alpha1.ConformanceReport{}
		if json.Unmarshal(js, &cr) != nil {
			return nil, problems
		}
	}
	for _, p := range Check(&cr, d) {
		if !slices.Contains(problems, p) {
			problems = append(problems, p)
		}
	}
	return &cr, problems
}

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(v1alpha1.JSONSchema()))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date is date-time
	if err := c.AddResource(v1alpha1.SchemaID, doc); err != nil {
		return nil, err
	}
	return c.Compile(v1alpha1.SchemaID)
})

var printer = message.NewPrinter(language.English)

// schemaProblems flattens a validation error into its leaves, each at the instance's JSON path.
func schemaProblems(inst any, err error) []Problem {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Path: "$", Message: err.Error()}}
	}
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			p := Problem{Path: jsonPath(inst, e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonPath writes a JSON pointer's tokens as a JSON path ($.a.b[0]), walking the instance to tell array indexes from
// object keys.
func jsonPath(inst any, tokens []string) string {
	var b strings.Builder
	b.WriteString("$")
	cur := inst
	for _, t := range tokens {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			cur = nil
			if n, err := strconv.Atoi(t); err == nil && n >= 0 && n < len(v) {
				cur = v[n]
			}
			continue
		case map[string]any:
			cur = v[t]
		default:
			cur = nil
		}
		b.WriteString(pathKey(t))
	}
	return b.String()
}

// pathKey is ".key", or ["key"] for a key that is not an identifier.
func pathKey(k string) string {
	if identRE.MatchString(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}
