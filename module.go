// Package meshconform holds the module's own go.mod and go.sum, so the image kit can build the fixtures (our CNI,
// pause and test workload) from the exact dependency versions this binary was built with.
package meshconform

import _ "embed"

//go:embed go.mod
var GoMod string

//go:embed go.sum
var GoSum string
