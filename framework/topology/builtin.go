package topology

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/meshconform/meshconform/envs"
)

// BuiltinInfo names a built-in topology and describes it in one line.
type BuiltinInfo struct {
	Name        string
	Description string
}

// Builtins lists the built-in topologies (the envs package's *.yaml files),
// sorted by name, each with its metadata.annotations["meshconform.io/description"].
func Builtins() []BuiltinInfo {
	var infos []BuiltinInfo
	for _, name := range builtinNames() {
		info := BuiltinInfo{Name: name}
		if t, err := Builtin(name); err != nil {
			info.Description = "invalid built-in: " + err.Error()
		} else {
			info.Description = t.Metadata.Annotations[DescriptionAnnotation]
		}
		infos = append(infos, info)
	}
	return infos
}

// Builtin returns a fresh, defaulted and validated copy of the built-in
// topology called name (its file name in envs without .yaml).
func Builtin(name string) (*Topology, error) {
	file := name + ".yaml"
	if name == "" || strings.ContainsAny(name, `/\`) || !fs.ValidPath(file) {
		return nil, unknownTopology(name)
	}
	data, err := fs.ReadFile(envs.FS, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unknownTopology(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read built-in topology %q: %w", name, err)
	}
	return parse(data, "built-in topology "+name, "")
}

// Resolve returns the built-in topology called nameOrPath or, when there is
// no such built-in, loads the file at nameOrPath. A built-in wins over a file
// of the same name in the working directory; write ./name to mean the file.
// The error for neither lists the built-in names.
func Resolve(nameOrPath string) (*Topology, error) {
	if t, err := Builtin(nameOrPath); err == nil {
		return t, nil
	} else if _, unknown := err.(*unknownTopologyError); !unknown {
		return nil, err
	}
	if _, err := os.Stat(nameOrPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, unknownTopology(nameOrPath)
		}
		return nil, fmt.Errorf("topology %q: %w", nameOrPath, err)
	}
	return Load(nameOrPath)
}

type unknownTopologyError struct{ name string }

func (e *unknownTopologyError) Error() string {
	return fmt.Sprintf("topology %q is neither a built-in nor a file: use a topology file path or one of the built-ins: %s",
		e.name, strings.Join(builtinNames(), ", "))
}

func unknownTopology(name string) error { return &unknownTopologyError{name: name} }

func builtinNames() []string {
	entries, err := fs.ReadDir(envs.FS, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".yaml" {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	return names
}
