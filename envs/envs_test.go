package envs_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/envs"
	"github.com/meshconform/meshconform/framework/topology"
)

// Every embedded file is a built-in topology named after its file.
func TestEveryFileIsAValidBuiltin(t *testing.T) {
	files, err := fs.Glob(envs.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("only %d built-in files embedded: %v", len(files), files)
	}
	for _, f := range files {
		name := strings.TrimSuffix(f, ".yaml")
		top, err := topology.Builtin(name)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if top.Metadata.Name != name {
			t.Errorf("%s: metadata.name is %q, want %q", f, top.Metadata.Name, name)
		}
	}
}
