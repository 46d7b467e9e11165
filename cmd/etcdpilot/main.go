// Command etcdpilot makes etcd cluster changes safe: status, upgrade plans
// and rolling upgrades, snapshots, membership changes, local sandboxes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
)

// exitError carries a specific exit code: 1 means "the answer is no"
// (blockers, unhealthy, mismatch), 2 means the command could not do its job.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// answerNo returns an error that exits with status 1 and prints msg.
func answerNo(format string, args ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, args...)}
}

// quietNo exits with status 1 without printing anything more.
var quietNo = &exitError{code: 1}

func main() {
	root := newRoot()
	// Ctrl-C cancels the work in hand; an upgrade stops between steps and
	// leaves its journal for --resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	interrupted := ctx.Err() != nil
	stop()
	if err == nil {
		return
	}
	if interrupted {
		// Ctrl-C or SIGTERM: the work stopped where it was safe (a change
		// between steps, its journal written); say so, as shells expect.
		fmt.Fprintln(os.Stderr, "Error: interrupted:", conn.Redact(err.Error()))
		os.Exit(130)
	}
	code := 2
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	}
	fmt.Fprintln(os.Stderr, "Error:", conn.Redact(err.Error()))
	os.Exit(code)
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "etcdpilot",
		Short:         "Safe changes to etcd clusters: status, upgrade plans and rolling upgrades, snapshots, membership, sandboxes",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.fromEnv(cmd)
		},
	}
	root.Version = Version
	root.SetVersionTemplate("etcdpilot {{.Version}}\n")
	g.register(root)
	root.AddCommand(
		newEtcdCmd(g),
		newSandboxCmd(g),
		newStatusCmd(g),
		newDemoCmd(g),
		newUpgradeCmd(g),
		newDowngradeCmd(g),
		newWALCmd(g),
		newRecoverCmd(g),
		newDefragCmd(g),
		newSpaceCmd(g),
		newAlarmCmd(g),
		newAgentCmd(g),
		newCatalogCmd(g),
		newSnapshotCmd(g),
		newBenchCmd(g),
		newMemberCmd(g),
		newRepoCmd(g),
		newDepsCmd(g),
		newVersionCmd(g),
	)
	root.InitDefaultCompletionCmd()
	strictGroups(root)
	return root
}

// strictGroups makes every command group refuse an unknown subcommand
// (exit 2, with cobra's suggestions) instead of printing its help and
// exiting 0: "etcdpilot snapshot sav /backups" in a cron job must fail.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())
	}
}

// Version of etcdpilot, set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print etcdpilot's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.print(cmd, printer.Value{Name: "version", Value: "etcdpilot " + Version})
		},
	}
}
