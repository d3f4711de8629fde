package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/topology"
)

// TestExitCodeMapping pins the documented exit codes to the errors that produce them.
func TestExitCodeMapping(t *testing.T) {
	plain := errors.New("kind create failed")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil is success", nil, 0},
		{"a plain error is a failed command", plain, 1},
		{"a wrapped plain error is a failed command", fmt.Errorf("up: %w", plain), 1},
		{"a failed verdict", &exitError{code: exitFailed, err: errors.New("conformance failed")}, 1},
		{"a usage error", &exitError{code: exitUsage, err: errors.New("--installer \"x\"")}, 2},
		{"a usage error wrapped by a caller", fmt.Errorf("run: %w", &exitError{code: exitUsage, err: plain}), 2},
		{"a failed preflight", &exitError{code: exitPreflight, err: errors.New("preflight failed")}, 3},
		{"an interrupt", context.Canceled, 130},
		{"an interrupt wrapped", fmt.Errorf("conformance run interrupted after 3s: %w", context.Canceled), 130},
		{"an interrupt inside a usage error", &exitError{code: exitUsage, err: fmt.Errorf("resolve: %w", context.Canceled)}, 130},
		{"a deadline is not an interrupt", context.DeadlineExceeded, 1},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
	// The constants are the documented numbers (main.go's package comment, README.md).
	for name, pair := range map[string][2]int{"exitOK": {exitOK, 0}, "exitFailed": {exitFailed, 1}, "exitUsage": {exitUsage, 2},
		"exitPreflight": {exitPreflight, 3}, "exitInterrupted": {exitInterrupted, 130}} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %d, documented as %d", name, pair[0], pair[1])
		}
	}
}

// TestCommandsExitCodes runs commands that fail before touching docker and checks the code each one exits with.
func TestCommandsExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: meshconform.io/v1alpha1\nkind: Topology\nspec: {clusters: [{name: c1, role: nope}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A state directory holding environment "held": another name given for it is bad input, before anything runs.
	held := t.TempDir()
	mp, err := topology.Builtin("multi-primary")
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.NewState(held, "held").Save(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(env.NameEnv, "")
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"validate", "multi-primary"}, 0},
		{[]string{"up", "--env", "Bad-Name", "--state-dir", t.TempDir()}, 2},
		{[]string{"up", "--env", "other", "--state-dir", held}, 2},
		{[]string{"test", "--env", "other", "--state-dir", held}, 2},
		{[]string{"down", "--env", "Bad-Name", "--state-dir", t.TempDir()}, 2},
		{[]string{"validate", "no-such-topology"}, 2},
		{[]string{"validate", bad}, 2},
		{[]string{"up", "--networking", "flat", "--state-dir", t.TempDir()}, 2},
		{[]string{"run", "--no-mesh", "--state-dir", t.TempDir()}, 2},
		{[]string{"test", "--timeout", "nosuchwait=1m", "--state-dir", t.TempDir()}, 2},
		{[]string{"test", "--false-alarm", "0.5", "--state-dir", t.TempDir()}, 2},
		{[]string{"test", "--report-dir", "", "--state-dir", t.TempDir()}, 2}, // no environment to test
		{[]string{"status", "--state-dir", t.TempDir()}, 1},                   // no environment file: a failed command
		// Errors cobra itself raises (unknown flag, wrong number of arguments) are usage errors too.
		{[]string{"validate", "--no-such-flag", "multi-primary"}, 2},
		{[]string{"validate"}, 2},
		{[]string{"down", "extra-argument", "--state-dir", t.TempDir()}, 2},
		{[]string{"test", "--false-alarm", "NaN", "--state-dir", t.TempDir()}, 2},
		{[]string{"test", "--false-alarm", "+Inf", "--state-dir", t.TempDir()}, 2},
	}
	for _, c := range cases {
		root := newRootCommand()
		root.SetArgs(c.args)
		root.SetOut(new(discard))
		err := root.Execute()
		if got := exitCode(err); got != c.want {
			t.Errorf("meshconform %v: exit code %d, want %d (%v)", c.args, got, c.want, err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestTestKeepsTheLastReportsWithoutAnEnvironment: a mistyped --state-dir must not cost the previous run's reports.
func TestTestKeepsTheLastReportsWithoutAnEnvironment(t *testing.T) {
	reports := t.TempDir()
	junit := filepath.Join(reports, "junit.xml")
	if err := os.WriteFile(junit, []byte("<testsuites/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand()
	root.SetArgs([]string{"test", "--report-dir", reports, "--state-dir", t.TempDir()})
	root.SetOut(new(discard))
	if got := exitCode(root.Execute()); got != exitUsage {
		t.Errorf("exit code %d, want %d (no environment)", got, exitUsage)
	}
	if _, err := os.Stat(junit); err != nil {
		t.Errorf("the previous junit.xml is gone: %v", err)
	}
}

// Without a terminal there is no one to ask: `down --all` refuses without printing a prompt nobody answers, even
// when stdin is /dev/null (a character device, but not a terminal).
func TestConfirmWithoutATerminalRefusesSilently(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out strings.Builder
	if confirm(null, &out, "  kind cluster mc-x-c1\n") || out.Len() != 0 {
		t.Errorf("confirm on /dev/null: agreed or prompted %q", out.String())
	}
}
