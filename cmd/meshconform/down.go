package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/provision"
)

func newDownCommand() *cobra.Command {
	var all, yes bool
	var f envFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the environment's clusters, networks and rules (only what carries its name)",
		Long: "down removes one environment: the one in --state-dir, or with --env NAME the one of that name, found by its\n" +
			"labels when its file is gone. With neither it removes nothing and lists the environments on this machine.\n" +
			"--all removes every meshconform environment after listing them and asking (--yes: without asking).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			began := time.Now()
			name := f.env
			if name == "" {
				name = os.Getenv(env.NameEnv)
			}
			if name != "" {
				if err := env.ValidateName(name); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("--env: %w", err)}
				}
			}
			release, err := f.lock(cmd.Context())
			if err != nil {
				return err
			}
			defer release()
			// Cleanup must finish even when the user presses Ctrl-C again.
			ctx := context.WithoutCancel(cmd.Context())
			err = provision.Down(ctx, provision.DownOptions{StateDir: f.stateDir, Env: name, All: all, Out: os.Stdout,
				Confirm: func(listing string) bool { return yes || confirm(os.Stdin, os.Stdout, listing) }})
			if errors.Is(err, provision.ErrNotConfirmed) {
				return &exitError{code: exitUsage, err: fmt.Errorf("%w (pass --yes to confirm without a prompt)", err)}
			}
			if err != nil {
				return err
			}
			fmt.Printf("down in %s\n", time.Since(began).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every meshconform environment on this machine (lists them and asks first)")
	cmd.Flags().BoolVar(&yes, "yes", false, "with --all: remove without asking (for scripts and CI)")
	f.register(cmd)
	return cmd
}

// confirm shows what `down --all` would remove and asks; only "y" or "yes" agrees. Without a terminal (a script, CI)
// there is no one to ask: it refuses, and the caller says to pass --yes.
func confirm(in *os.File, out io.Writer, listing string) bool {
	if !term.IsTerminal(int(in.Fd())) {
		return false
	}
	fmt.Fprintf(out, "down --all removes every meshconform environment on this machine:\n%sremove all of it? [y/N] ", listing)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
