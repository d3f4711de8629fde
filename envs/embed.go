// Package envs holds meshconform's built-in topology files.
//
// Each *.yaml file here is one Topology (see package
// github.com/meshconform/meshconform/framework/topology); its file name without
// the extension is the built-in's name, and its
// metadata.annotations["meshconform.io/description"] is the one-line
// description shown by `meshconform topologies`. Add a built-in by adding a file:
// the topology package's tests check that every file parses, validates and
// names itself after its file.
package envs

import "embed"

// FS holds the built-in topology files at its root.
//
//go:embed *.yaml
var FS embed.FS
