package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/meshconform/meshconform/framework/lb"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// neverNil are the array fields without omitempty that the schema does not allow to be null: Build always sets them.
var neverNil = map[string]bool{"ProfileLevel.specs": true}

// enums are the schema's enum of each Go string type that has a fixed vocabulary.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[v1alpha1.Result](): {string(v1alpha1.ResultSuccess), string(v1alpha1.ResultPartial), string(v1alpha1.ResultFailure),
		string(v1alpha1.ResultSkipped), string(v1alpha1.ResultNotApplicable)},
	reflect.TypeFor[v1alpha1.SkipCause](): {string(v1alpha1.SkipNotApplicable), string(v1alpha1.SkipCannotRunHere), string(v1alpha1.SkipNotRun)},
	reflect.TypeFor[lb.GroupKind]():       {string(lb.GroupCluster), string(lb.GroupNetwork), string(lb.GroupRemoteCluster)},
	reflect.TypeFor[lb.Connections]():     {string(lb.ConnectionsReused), string(lb.ConnectionsPerCall)},
	reflect.TypeFor[v1alpha1.Profile](): func() []string {
		var out []string
		for _, p := range v1alpha1.Profiles {
			out = append(out, string(p))
		}
		return out
	}(),
}

type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields are the fields encoding/json writes for a struct type, embedded structs flattened.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type,
			omitempty: strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")})
	}
	return out
}

// The schema describes exactly the Go types: every field a property (and no other), required exactly when the field
// has no omitempty, each of the right JSON type, objects closed, enums equal to the vocabulary.
func TestSchemaMatchesTypes(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(v1alpha1.JSONSchema(), &schema); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	if schema["$id"] != v1alpha1.SchemaID {
		t.Errorf("$id %v, want %s", schema["$id"], v1alpha1.SchemaID)
	}
	defs, _ := schema["$defs"].(map[string]any)
	used := map[string]bool{}
	resolve := func(path string, s map[string]any) map[string]any {
		if r, ok := s["$ref"].(string); ok {
			name := strings.TrimPrefix(r, "#/$defs/")
			used[name] = true
			d, ok := defs[name].(map[string]any)
			if !ok {
				t.Fatalf("%s: $ref %s resolves to nothing", path, r)
			}
			return d
		}
		return s
	}
	typesOf := func(s map[string]any) []string {
		switch v := s["type"].(type) {
		case string:
			return []string{v}
		case []any:
			var out []string
			for _, x := range v {
				out = append(out, x.(string))
			}
			return out
		}
		return nil
	}
	var check func(path string, typ reflect.Type, s map[string]any, nullable bool)
	check = func(path string, typ reflect.Type, s map[string]any, nullable bool) {
		s = resolve(path, s)
		ts := typesOf(s)
		want := func(js string) {
			if _, isConst := s["const"]; isConst && len(ts) == 0 {
				return
			}
			if !slices.Contains(ts, js) {
				t.Errorf("%s: schema type %v, want %s (Go %s)", path, ts, js, typ)
			}
			if slices.Contains(ts, "null") != nullable {
				t.Errorf("%s: schema type %v: null allowed must be %v", path, ts, nullable)
			}
		}
		switch typ.Kind() {
		case reflect.Struct:
			want("object")
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties must be false (the typed reader refuses unknown fields)", path)
			}
			props, _ := s["properties"].(map[string]any)
			var required []string
			for _, r := range s["required"].([]any) {
				required = append(required, r.(string))
			}
			fields := jsonFields(typ)
			for _, f := range fields {
				p, ok := props[f.name].(map[string]any)
				if !ok {
					t.Errorf("%s: field %s (%s.%s) is not in the schema", path, f.name, typ.Name(), f.name)
					continue
				}
				if slices.Contains(required, f.name) == f.omitempty {
					t.Errorf("%s.%s: required in the schema: %v, omitempty in Go: %v (required exactly when not omitempty)", path, f.name,
						slices.Contains(required, f.name), f.omitempty)
				}
				k := f.typ.Kind()
				null := !f.omitempty && (k == reflect.Slice || k == reflect.Map) && !neverNil[typ.Name()+"."+f.name]
				check(path+"."+f.name, f.typ, p, null)
			}
			for name := range props {
				if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
					t.Errorf("%s: schema property %s has no Go field in %s", path, name, typ)
				}
			}
		case reflect.Slice:
			want("array")
			items, _ := s["items"].(map[string]any)
			check(path+"[]", typ.Elem(), items, false)
		case reflect.Map:
			want("object")
			ap, _ := s["additionalProperties"].(map[string]any)
			if ap == nil {
				t.Errorf("%s: a map needs an additionalProperties schema", path)
				return
			}
			check(path+"{}", typ.Elem(), ap, false)
		case reflect.String:
			want("string")
			if e, ok := enums[typ]; ok {
				var got []string
				for _, v := range s["enum"].([]any) {
					got = append(got, v.(string))
				}
				if !slices.Equal(got, e) {
					t.Errorf("%s: enum %v, want the vocabulary %v", path, got, e)
				}
			}
		case reflect.Int:
			want("integer")
		case reflect.Float64:
			want("number")
		case reflect.Bool:
			want("boolean")
		case reflect.Pointer:
			// An optional object (omitempty leaves nil out): its schema is the element's.
			check(path, typ.Elem(), s, false)
		default:
			t.Errorf("%s: Go kind %s has no schema rule here", path, typ.Kind())
		}
	}
	check("$", reflect.TypeFor[v1alpha1.ConformanceReport](), schema, false)
	for name := range defs {
		if !used[name] {
			t.Errorf("$defs.%s is not used", name)
		}
	}
}

// goodReports are reports Build writes: every kind of outcome, profiles, load-balancing verdicts, and none of it.
func goodReports(t *testing.T) map[string]*v1alpha1.ConformanceReport {
	t.Helper()
	ok := verdict(t, "cluster1", map[string]int{"cluster1": 1, "cluster2": 1}, map[string]int{"cluster1": 11, "cluster2": 10})
	mixed := types.Report{StartTime: time.Unix(1000, 0), RunTime: time.Minute, SpecReports: types.SpecReports{
		sp("trust-root", types.SpecStatePassed, "", entry(v1alpha1.LBVerdictEntry, ok)),
		sp("discovery-synced", types.SpecStateFailed, "cluster2 not synced"),
		sp("discovery-endpoints", types.SpecStatePassed, ""),
		sp("guide-hello", types.SpecStateSkipped, cannotRun),
		sp("isolation-nodes", types.SpecStateSkipped, notApply),
		sp("gateway-istiod", types.SpecStateSkipped, ""),
		sp("gateway-ports", types.SpecStatePassed, ""),
	}}
	passing := types.Report{SpecReports: types.SpecReports{sp("trust-root", types.SpecStatePassed, ""),
		sp("discovery-synced", types.SpecStatePassed, ""), sp("discovery-endpoints", types.SpecStatePassed, ""),
		sp("guide-hello", types.SpecStatePassed, ""), sp("isolation-nodes", types.SpecStatePassed, ""),
		sp("gateway-istiod", types.SpecStatePassed, ""), sp("gateway-ports", types.SpecStatePassed, "")}}
	o := Options{Command: []string{"meshconform", "run"}, Version: "v0.1.0", Profiles: testProfiles}
	return map[string]*v1alpha1.ConformanceReport{
		"mixed outcomes, three profiles": Build(mixed, topo(t, "primary/n1", "remote/n1", "primary/n2"), o),
		"all passed, multi-primary":      Build(passing, topo(t, "primary/n1", "primary/n1"), o),
		"no environment":                 Build(mixed, nil, o),
		"empty run":                      Build(types.Report{}, topo(t, "primary/n1", "remote/n1"), o),
	}
}

func writeYAML(t *testing.T, cr *v1alpha1.ConformanceReport) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), YAMLFile)
	if err := WriteYAML(cr, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Reports Build writes are valid: against the schema and the semantic checks, as YAML (what is written) and JSON.
func TestGeneratedReportsValidate(t *testing.T) {
	for name, cr := range goodReports(t) {
		t.Run(name, func(t *testing.T) {
			b := writeYAML(t, cr)
			back, problems := Validate(b, testDefinitions())
			if len(problems) > 0 {
				t.Fatalf("problems in a generated report:\n%v\n%s", problems, b)
			}
			if !reflect.DeepEqual(back, cr) {
				t.Errorf("Validate's report differs from the one written")
			}
			js, err := json.Marshal(cr)
			if err != nil {
				t.Fatal(err)
			}
			if _, problems := Validate(js, testDefinitions()); len(problems) > 0 {
				t.Errorf("as JSON: %v", problems)
			}
		})
	}
	if cr := goodReports(t)["mixed outcomes, three profiles"]; len(cr.Profiles) != 3 || len(cr.LoadBalancing) != 1 {
		t.Errorf("the mixed report should exercise profiles and verdicts: %d profiles, %d verdicts", len(cr.Profiles), len(cr.LoadBalancing))
	}
}

// corrupt decodes a good report into generic JSON, applies edit, and returns the result.
func corrupt(t *testing.T, cr *v1alpha1.ConformanceReport, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(cr)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a generic JSON value: keys for objects, ints for arrays.
func at(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

// Every corruption is found, at its JSON path, with a message that says what is wrong.
func TestCorruptedReportsFail(t *testing.T) {
	good := goodReports(t)["mixed outcomes, three profiles"]
	// Profiles of the mixed report: 0 MultiPrimary, 1 PrimaryRemote, 2 MultiNetwork.
	if good.Profiles[0].Name != v1alpha1.ProfileMultiPrimary || good.Profiles[0].Core.Result != v1alpha1.ResultFailure {
		t.Fatalf("unexpected fixture: %+v", good.Profiles[0])
	}
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		// want are path/message-fragment pairs that must all be among the problems.
		want [][2]string
	}{
		{"wrong type", func(m map[string]any) { at(m, "profiles", 0, "core", "statistics")["passed"] = "two" },
			[][2]string{{"$.profiles[0].core.statistics.passed", "want integer"}}},
		{"wrong type of an area's statistics", func(m map[string]any) { at(m, "statistics")["failed"] = true },
			[][2]string{{"$.statistics.failed", "want integer"}}},
		{"missing required field", func(m map[string]any) { delete(at(m, "profiles", 1, "extended"), "result") },
			[][2]string{{"$.profiles[1].extended", "missing property 'result'"}}},
		{"missing top-level field", func(m map[string]any) { delete(m, "reproduce") },
			[][2]string{{"$", "missing property 'reproduce'"}}},
		{"unknown result value", func(m map[string]any) { at(m, "profiles", 2)["result"] = "great" },
			[][2]string{{"$.profiles[2].result", "great"}}},
		{"unknown skip cause", func(m map[string]any) {
			at(m, "profiles", 0, "extended", "skippedSpecs", 0)["cause"] = "unlucky"
		}, [][2]string{{"$.profiles[0].extended.skippedSpecs[0].cause", "unlucky"}}},
		{"unknown profile", func(m map[string]any) { at(m, "profiles", 2)["name"] = "SingleCluster" },
			[][2]string{{"$.profiles[2].name", "SingleCluster"}}},
		{"unknown field", func(m map[string]any) { at(m, "profiles", 0)["verdict"] = "fine" },
			[][2]string{{"$.profiles[0]", "'verdict' not allowed"}}},
		{"wrong apiVersion", func(m map[string]any) { m["apiVersion"] = "meshconform.io/v2" },
			[][2]string{{"$.apiVersion", "meshconform.io/v1alpha1"}}},
		{"date not RFC 3339", func(m map[string]any) { m["date"] = "yesterday" },
			[][2]string{{"$.date", "date-time"}}},
		{"a result its counts contradict", func(m map[string]any) { at(m, "profiles", 0, "core")["result"] = "success" },
			[][2]string{{"$.profiles[0].core.result", "make it failure"}, {"$.profiles[0].result", "make it partial"}}},
		{"a profile result its levels contradict", func(m map[string]any) { at(m, "profiles", 0)["result"] = "success" },
			[][2]string{{"$.profiles[0].result", "core failure and extended skipped make it failure"}}},
		{"a count its list contradicts", func(m map[string]any) { at(m, "profiles", 0, "core", "statistics")["failed"] = 2 },
			[][2]string{{"$.profiles[0].core.statistics.failed", "2, but failedSpecs lists 1"}, {"$.profiles[0].core.statistics", "count 4 specs, but specs lists 3"}}},
		{"an unknown spec name", func(m map[string]any) { at(m, "profiles", 2, "core")["specs"] = []any{"gateway-portz"} },
			[][2]string{{"$.profiles[2].core.specs[0]", `unknown spec "gateway-portz"`}, {"$.profiles[2].core.specs", "lacks gateway-ports"}}},
		{"a spec in the wrong profile", func(m map[string]any) { at(m, "profiles", 2, "core")["specs"] = []any{"trust-root"} },
			[][2]string{{"$.profiles[2].core.specs[0]", "trust-root does not count in this level"}}},
		{"an unknown spec in an area", func(m map[string]any) {
			at(m, "areas", 1, "failedSpecs", 0)["name"] = "conformance something else"
		}, [][2]string{{"$.areas[1].failedSpecs[0].name", `unknown spec "conformance something else"`}}},
		{"a spec that could not run called unsupported", func(m map[string]any) {
			l := at(m, "profiles", 0, "extended")
			l["unsupportedSpecs"] = append(l["unsupportedSpecs"].([]any), l["skippedSpecs"].([]any)[0])
			delete(l, "skippedSpecs")
			s := at(l, "statistics")
			s["skipped"], s["notApplicable"] = 0, 2
			l["result"] = "notApplicable"
			l["supportedFeatures"], l["unsupportedFeatures"] = nil, []any{"Guide", "NodeIsolation"}
			delete(l, "supportedFeatures")
		}, [][2]string{{"$.profiles[0].extended.unsupportedSpecs[1].cause", "an unsupported spec is one that does not apply"},
			{"$.profiles[0].extended.specs[0]", "spec guide-hello is unsupported here, but its area reports it skipped"}}},
		{"a supported feature called unsupported", func(m map[string]any) {
			l := at(m, "profiles", 0, "core")
			l["unsupportedFeatures"] = []any{"RootOfTrust"}
		}, [][2]string{{"$.profiles[0].core", "RootOfTrust is listed both supported and unsupported"},
			{"$.profiles[0].core.unsupportedFeatures", "lists RootOfTrust, but some of its specs (trust-root) apply"}}},
		{"a profile the topology's shape does not have", func(m map[string]any) {
			m["topology"].(map[string]any)["clusters"] = []any{at(m, "topology", "clusters", 0), at(m, "topology", "clusters", 1)}
		}, [][2]string{{"$.profiles[0].name", "profile MultiPrimary applies to at least 2 primary clusters, but the topology has 1 primary"},
			{"$.profiles[2].name", "MultiNetwork applies to at least 2 mesh networks"}}},
		{"a profile the topology's shape calls for is missing", func(m map[string]any) {
			m["profiles"] = m["profiles"].([]any)[:2]
		}, [][2]string{{"$.profiles", "no result for profile MultiNetwork"}}},
		{"an area result its counts contradict", func(m map[string]any) { at(m, "areas", 1)["result"] = "success" },
			[][2]string{{"$.areas[1].result", "make it failure"}}},
		{"run statistics that do not add up", func(m map[string]any) { at(m, "statistics")["passed"] = 40 },
			[][2]string{{"$.statistics", "40 passed, 1 failed, 2 skipped, 1 not applicable, but the areas add up to 3 passed"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := corrupt(t, good, tc.edit)
			_, problems := Validate(b, testDefinitions())
			if len(problems) == 0 {
				t.Fatalf("no problem found in\n%s", b)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Path == w[0] && strings.Contains(p.Message, w[1]) }) {
					t.Errorf("no problem at %s saying %q; got:\n%s", w[0], w[1], joinProblems(problems))
				}
			}
		})
	}
}

func joinProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// Several corruptions at once are all reported, schema and semantic alike; content that is not a report says so.
func TestValidateReportsEveryProblem(t *testing.T) {
	good := goodReports(t)["mixed outcomes, three profiles"]
	b := corrupt(t, good, func(m map[string]any) {
		at(m, "profiles", 0)["result"] = "great"
		delete(at(m, "profiles", 1, "core"), "specs")
		at(m, "areas", 0)["result"] = "failure"
		m["extra"] = 1
	})
	_, problems := Validate(b, testDefinitions())
	for _, path := range []string{"$.profiles[0].result", "$.profiles[1].core", "$.areas[0].result", "$"} {
		if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Path == path }) {
			t.Errorf("no problem at %s; got:\n%s", path, joinProblems(problems))
		}
	}
	for _, content := range []string{"", "[1, 2]", "apiVersion: [unclosed", "just a string"} {
		if _, problems := Validate([]byte(content), testDefinitions()); len(problems) == 0 {
			t.Errorf("%q: no problem", content)
		}
	}
	// Without definitions, names are not checked but consistency is.
	b = corrupt(t, good, func(m map[string]any) { at(m, "profiles", 2, "core")["specs"] = []any{"no-such-spec", "no-such-spec"} })
	_, problems = Validate(b, nil)
	if slices.ContainsFunc(problems, func(p Problem) bool { return strings.Contains(p.Message, "unknown spec") }) {
		t.Errorf("names checked without definitions:\n%s", joinProblems(problems))
	}
	for _, w := range [][2]string{{"$.profiles[2].core.specs[1]", "listed twice"}, {"$.profiles[2].core.statistics", "count 1 specs, but specs lists 2"}} {
		if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Path == w[0] && strings.Contains(p.Message, w[1]) }) {
			t.Errorf("no problem at %s saying %q; got:\n%s", w[0], w[1], joinProblems(problems))
		}
	}
}

// A verdict inlined in a load-balancing result keeps its fields at the result's level (the schema says so).
func TestSchemaSeesInlinedVerdict(t *testing.T) {
	v := lb.Verdict{Source: "c1", Plan: lb.Plan{Shares: map[string]float64{"c1": 1}, Requests: 1}, Tally: map[string]int{"c1": 1}, Pass: true}
	b, _ := json.Marshal(v1alpha1.LBResult{Spec: "s", Verdict: v})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if _, ok := m["source"]; !ok {
		t.Errorf("verdict not inlined: %s", b)
	}
}
