package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"

	yamlv2 "go.yaml.in/yaml/v2"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads, strictly decodes, defaults and validates the topology file at
// path. Relative kubeconfig paths in it are made relative to the file's
// directory. Problems come back as one *ValidationError naming the file.
//
// The file must be a regular file of at most MaxFileSize bytes: a directory,
// a named pipe, a device (/dev/zero) or an oversized file is refused before
// anything is read from it, so Load never blocks or reads without end.
func Load(path string) (*Topology, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data, path, filepath.Dir(path))
}

// MaxFileSize is the largest topology file Load reads (1 MiB; a topology is a
// few KiB).
const MaxFileSize = 1 << 20

// readFile reads the regular file at path, refusing anything else and
// anything larger than MaxFileSize, each with an error naming the path and the fix.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it does not wait for a writer
	// (the Stat of the open file below refuses it).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, err
	}
	// The size may grow after the check: never read more than one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, int64(len(data)))
	}
	return data, nil
}

// checkFileInfo refuses what is not a regular file of at most MaxFileSize bytes.
func checkFileInfo(path string, fi os.FileInfo) error {
	const fix = "write the topology to a regular YAML file and pass its path, or pass a built-in's name (meshconform topologies)"
	switch m := fi.Mode(); {
	case m.IsDir():
		return fmt.Errorf("read topology %s: is a directory, not a topology file: pass the path of the YAML file in it, or a built-in's name (meshconform topologies)", path)
	case m&os.ModeNamedPipe != 0:
		return fmt.Errorf("read topology %s: is a named pipe (FIFO), not a regular file: %s", path, fix)
	case m&os.ModeCharDevice != 0:
		return fmt.Errorf("read topology %s: is a character device, not a regular file: %s", path, fix)
	case m&os.ModeDevice != 0:
		return fmt.Errorf("read topology %s: is a device, not a regular file: %s", path, fix)
	case m&os.ModeSocket != 0:
		return fmt.Errorf("read topology %s: is a socket, not a regular file: %s", path, fix)
	case !m.IsRegular():
		return fmt.Errorf("read topology %s: is not a regular file (mode %s): %s", path, m, fix)
	case fi.Size() > MaxFileSize:
		return tooLarge(path, fi.Size())
	}
	return nil
}

func tooLarge(path string, size int64) error {
	return fmt.Errorf("read topology %s: %d bytes, more than the %d-byte (1 MiB) limit: a topology is a few KiB: check that this is the topology file you meant", path, size, MaxFileSize)
}

// Parse strictly decodes, defaults and validates a topology document.
// Unknown fields (matched case-sensitively) are errors naming their path; all
// problems are reported together in one *ValidationError. Syntax and type
// errors stop decoding and are reported alone.
func Parse(data []byte) (*Topology, error) {
	return parse(data, "", "")
}

// parse is Parse with a source for messages and a directory against which
// relative kubeconfig paths are resolved ("" leaves them alone).
func parse(data []byte, source, dir string) (*Topology, error) {
	prefix := ""
	if source != "" {
		prefix = source + ": "
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%sempty topology: start from a built-in (meshconform topologies) or see the topology package documentation", prefix)
	}
	if n, err := countDocuments(data); err == nil && n > 1 {
		return nil, fmt.Errorf("%sfound %d YAML documents: put one Topology per file", prefix, n)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%sinvalid YAML: %s", prefix, strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, fmt.Errorf("%sempty topology: start from a built-in (meshconform topologies) or see the topology package documentation", prefix)
	}
	t := &Topology{}
	strict, err := k8sjson.UnmarshalStrict(js, t)
	if err != nil {
		return nil, fmt.Errorf("%s%s", prefix, describeDecodeError(err))
	}
	var ps problems
	for _, e := range strict {
		ps = append(ps, strictProblem(e))
	}
	if dir != "" {
		for i := range t.Spec.Clusters {
			t.Spec.Clusters[i].Kubeconfig = resolveKubeconfig(t.Spec.Clusters[i].Kubeconfig, dir)
		}
	}
	t.Default()
	t.validate(&ps)
	if err := ps.err(source); err != nil {
		return nil, err
	}
	return t, nil
}

// resolveKubeconfig expands a leading ~/ to the home directory and makes a
// relative path relative to dir.
func resolveKubeconfig(kc, dir string) string {
	switch {
	case kc == "" || filepath.IsAbs(kc):
		return kc
	case kc == "~" || strings.HasPrefix(kc, "~/"):
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, kc[1:])
		}
		return kc
	}
	return filepath.Join(dir, kc)
}

// countDocuments counts the non-empty YAML documents in data.
func countDocuments(data []byte) (int, error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if v != nil {
			n++
		}
	}
}

// strictProblem turns a strict-decoding error of sigs.k8s.io/json (unknown
// or duplicate field, with its path) into a FieldError with a suggestion.
func strictProblem(err error) *FieldError {
	var fe k8sjson.FieldError
	if !errors.As(err, &fe) {
		return &FieldError{Problem: err.Error()}
	}
	path := fe.FieldPath()
	switch {
	case strings.HasPrefix(err.Error(), "unknown field"):
		return &FieldError{Field: path, Problem: "unknown field", Fix: unknownFieldFix(path)}
	case strings.HasPrefix(err.Error(), "duplicate field"):
		return &FieldError{Field: path, Problem: "duplicate field", Fix: "keep one of them"}
	}
	return &FieldError{Field: path, Problem: err.Error()}
}

// unknownFieldFix suggests the closest known field at the unknown field's
// level and lists the known ones.
func unknownFieldFix(path string) string {
	segs := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	typ := reflect.TypeFor[Topology]()
	for _, s := range segs[:len(segs)-1] {
		f, ok := fieldByTag(typ, s)
		if !ok {
			return "remove it"
		}
		typ = f.Type
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return "remove it"
		}
	}
	known := tagNames(typ)
	bad := segs[len(segs)-1]
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(bad), strings.ToLower(k))
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	fix := "known fields here: " + strings.Join(known, ", ")
	if best != "" {
		return fmt.Sprintf("did you mean %q? (field names are case-sensitive; %s)", best, fix)
	}
	return "remove it or fix its name (" + fix + ")"
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" && n != "-" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typeErrorRE matches encoding/json's type errors (sigs.k8s.io/json keeps
// the message but not an exported type).
var typeErrorRE = regexp.MustCompile(`^json: cannot unmarshal (.+) into Go (?:struct field \w+\.(\S+)|value) of type (\S+)$`)

// describeDecodeError rewrites a JSON decoding error into "field: got X, want Y".
func describeDecodeError(err error) string {
	m := typeErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "cannot decode topology: " + err.Error()
	}
	field := m[2]
	if field == "" {
		field = "top level"
	}
	return fmt.Sprintf("%s: got %s, want %s", field, jsonKind(m[1]), goKind(m[3]))
}

func jsonKind(v string) string {
	switch {
	case v == "object":
		return "a mapping"
	case v == "array":
		return "a list"
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case strings.HasPrefix(v, "number"):
		return "a number" + strings.TrimPrefix(v, "number")
	}
	return v
}

func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "topology."):
		if t == "topology.Role" || t == "topology.Networking" {
			return "a string"
		}
		return "a mapping"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool":
		return "a boolean"
	}
	return t
}
