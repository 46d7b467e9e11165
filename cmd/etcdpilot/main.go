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
	"github.com/etcdpilot/etcdpilot/pkg/logging"
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
	root, g := newApp()
	// Ctrl-C cancels the work in hand; an upgrade stops between steps and
	// leaves its journal for --resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stopProfile()
	interrupted := ctx.Err() != nil
	stop()
	if err == nil {
		return
	}
	if interrupted {
		// Ctrl-C or SIGTERM: the work stopped where it was safe (a change
		// between steps, its journal written); say so, as shells expect.
		g.fail(fmt.Errorf("interrupted: %w", err), 130)
	}
	code := 2
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	}
	g.fail(err, code)
}

// jsonLogsAsked reports whether args ask for --log-format json: a flag
// error stops parsing before that flag may have been read.
func jsonLogsAsked(args []string) bool {
	for i, a := range args {
		if a == "--log-format=json" || (a == "--log-format" && i+1 < len(args) && args[i+1] == "json") {
			return true
		}
	}
	return false
}

// fail writes the final error, as a log record under --log-format json
// (so every line on stderr is JSON), and exits with code.
func (g *globals) fail(err error, code int) {
	msg := conn.Redact(err.Error())
	if g.logFormat == "json" || jsonLogsAsked(os.Args[1:]) {
		if l, lerr := logging.New(os.Stderr, "error", "json"); lerr == nil {
			l.Error(msg, "exit", code)
			os.Exit(code)
		}
	}
	fmt.Fprintln(os.Stderr, "Error:", msg)
	os.Exit(code)
}

func newRoot() *cobra.Command {
	root, _ := newApp()
	return root
}

// newApp is the command tree and the globals its flags fill.
func newApp() (*cobra.Command, *globals) {
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
	g.completeValues(root)
	strictGroups(root)
	return root, g
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
		Short: "Print etcdpilot's version, commit, Go version and the release catalog's age",
		Example: `  etcdpilot version
  etcdpilot version -w json | jq -r .commit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The catalog as this binary knows it now, without asking the
			// module proxy: version must answer offline and at once.
			g.offline = true
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			fresh := cat.Fresh
			fresh.Offline = false
			return g.print(cmd, printer.ReadBuild(Version, fresh))
		},
	}
}
