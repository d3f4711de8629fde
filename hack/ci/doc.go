// Package ci holds the checks of what CI runs that are not Go: its test lints the GitHub workflows with actionlint
// (github.com/rhysd/actionlint, the library, pinned in go.mod), so `go test ./...` fails on a workflow GitHub would
// reject or run wrongly.
package ci
