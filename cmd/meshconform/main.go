// Command meshconform provisions kind clusters, installs Istio multicluster topologies and runs conformance specs.
//
// Every command lives in its own file (run.go, up.go, test.go, down.go, status.go, topologies.go, validate.go,
// preflight.go, images.go, report.go); flags shared by several commands are in flags.go.
//
// # Exit codes
//
// The exit code is the verdict; these are all of them (README.md's commands section has the same table):
//
//	0    success: the command did what it was asked; for `test` and `run`, conformant (every spec that ran passed);
//	     for `report validate`, the report is valid
//	1    a spec failed (`test`, `run`), a report file is invalid (`report validate`), or a command failed
//	     (provisioning, installing, down, status with no environment file, ...)
//	2    bad input: an unknown or malformed flag, a wrong number of arguments, flag values that are invalid or
//	     contradict each other, a topology that does not load or validate, an installer whose tools or charts
//	     cannot be found, an environment name that is invalid or contradicts the state directory's, `test`
//	     finding no environment to test, `down --all` not confirmed, or a report file that cannot be read
//	3    preflight failed: this machine cannot run the topology (`preflight`, and `up`/`run` unless --skip-preflight)
//	130  interrupted (Ctrl-C or SIGTERM); the phases cleaned up what they had started
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/meshconform/meshconform/framework/clusters"
)

func main() {
	// A kind cluster is created in a child process running this binary (see framework/clusters).
	clusters.RunChildIfRequested()
	// client-go reports closed exec/port-forward streams (ours, when a step ends) as errors on stderr; they are
	// noise in a report a user reads. MESHCONFORM_DEBUG=1 keeps them.
	if os.Getenv("MESHCONFORM_DEBUG") == "" {
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
		klog.SetLogger(logr.Discard()) // client-go's contextual logging (runtime.HandleError) goes here
	}
	// The first Ctrl-C cancels the context so every phase can clean up what it started; a second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := newRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		code := exitCode(err)
		if code == exitInterrupted {
			fmt.Fprintln(os.Stderr, "meshconform: interrupted")
		} else {
			fmt.Fprintf(os.Stderr, "meshconform: %v\n", err)
		}
		os.Exit(code)
	}
}

// Exit codes; the package comment says when each is used.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitPreflight   = 3
	exitInterrupted = 130
)

// exitError carries a specific exit code (e.g. a failed conformance verdict) through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode maps a command's error to the process's exit code: an interrupt wins over everything (even a usage error
// that wraps it), then an exitError's own code, then exitFailed for any other error.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "meshconform",
		Short:         "Multicluster conformance harness for the Istio service mesh",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCommand(), newUpCommand(), newTestCommand(), newDownCommand(), newStatusCommand(), newTopologiesCommand(),
		newValidateCommand(), newPreflightCommand(), newImagesCommand(), newReportCommand())
	usageErrors(root)
	return root
}

// usageErrors makes the errors cobra raises itself (an unknown or malformed flag, the wrong number of arguments)
// usage errors, exiting exitUsage like every other bad input.
func usageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageErrors(sub)
	}
}

// buildVersion is set by the Makefile (-ldflags -X main.buildVersion=...), from `git describe`.
var buildVersion string

// version is buildVersion, else the module version or the VCS revision Go stamped into the binary.
var version = func() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v == "" || v == "(devel)" {
				v = s.Value
				if len(v) > 12 {
					v = v[:12]
				}
			}
		case "vcs.modified":
			if s.Value == "true" {
				v += "-dirty"
			}
		}
	}
	return v
}()
