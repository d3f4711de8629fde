// Command meshconform provisions kind clusters, installs Istio multicluster topologies and runs conformance specs.
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
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "meshconform: interrupted")
			os.Exit(130)
		}
		fmt.Fprintf(os.Stderr, "meshconform: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit code (e.g. a failed conformance verdict) through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
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
		newValidateCommand(), newPreflightCommand(), newImagesCommand())
	return root
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
