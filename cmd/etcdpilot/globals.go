package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
	"github.com/etcdpilot/etcdpilot/pkg/target"
)

// globals are the flags every command shares: etcdctl's connection flags,
// the cache and state directories, and the output format.
type globals struct {
	conn     conn.Config
	cacheDir string
	stateDir string
	output   string
	catalogF string
	offline  bool
	// cat is the catalog, opened once per command.
	cat *catalog.Catalog
	// logLevel and logFormat make log, the logger of every command.
	logLevel, logFormat string
	log                 *slog.Logger
	// endpointsGiven lists the connection flags given on the command line.
	endpointsGiven []string
	// stores opens snapshot locations: --s3-endpoint, --s3-path-style,
	// --age-identity.
	stores snapshot.Stores
	// cpuProfile is --cpu-profile, hidden: where a CPU profile goes.
	cpuProfile string
	// completing is set while a shell asks for completions: nothing is
	// asked on the terminal then.
	completing bool
}

// envFlags maps etcdctl's environment variables to flags.
var envFlags = map[string]string{
	"endpoints":                "ETCDCTL_ENDPOINTS",
	"cacert":                   "ETCDCTL_CACERT",
	"cert":                     "ETCDCTL_CERT",
	"key":                      "ETCDCTL_KEY",
	"user":                     "ETCDCTL_USER",
	"password":                 "ETCDCTL_PASSWORD",
	"dial-timeout":             "ETCDCTL_DIAL_TIMEOUT",
	"command-timeout":          "ETCDCTL_COMMAND_TIMEOUT",
	"insecure-skip-tls-verify": "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
	"write-out":                "ETCDCTL_WRITE_OUT",
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringSliceVar(&g.conn.Endpoints, "endpoints", []string{"127.0.0.1:2379"}, "gRPC endpoints (env ETCDCTL_ENDPOINTS)")
	f.StringVar(&g.conn.CACert, "cacert", "", "verify certificates of TLS-enabled secure servers using this CA bundle")
	f.StringVar(&g.conn.Cert, "cert", "", "identify secure client using this TLS certificate file")
	f.StringVar(&g.conn.Key, "key", "", "identify secure client using this TLS key file")
	f.StringVar(&g.conn.User, "user", "", "username[:password] for authentication")
	f.StringVar(&g.conn.Password, "password", "", "password for authentication (if this option is used, --user option shouldn't include password)")
	f.BoolVar(&g.conn.InsecureSkipVerify, "insecure-skip-tls-verify", false, "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)")
	f.DurationVar(&g.conn.DialTimeout, "dial-timeout", conn.DefaultDialTimeout, "dial timeout for client connections")
	f.DurationVar(&g.conn.CommandTimeout, "command-timeout", conn.DefaultCommandTimeout, "timeout for short running command (excluding dial timeout)")
	positive(root, "dial-timeout", "command-timeout")
	f.StringVarP(&g.output, "write-out", "w", "table", "set the output format (table, json, simple, fields)")
	f.StringVar(&g.cacheDir, "cache-dir", "", "etcd binary cache (default $XDG_CACHE_HOME/etcdpilot)")
	f.StringVar(&g.stateDir, "state-dir", "", "state directory: sandboxes, journals, caches (default $ETCDPILOT_STATE_DIR, $XDG_STATE_HOME/etcdpilot, for root /var/lib/etcdpilot, else ~/.local/state/etcdpilot)")
	f.StringVar(&g.catalogF, "catalog", "", "release catalog file replacing the embedded one")
	f.BoolVar(&g.offline, "offline", catalog.OfflineFromEnv(), "never ask the Go module proxy for etcd's newest releases: use the cached list and the compiled-in one (env ETCDPILOT_OFFLINE)")
	f.StringVar(&g.logLevel, "log-level", "info", "log messages at this level and above on stderr: debug, info, warn, error")
	f.StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	// S3 follows the AWS conventions (AWS_* environment, profiles); these
	// override the endpoint and the addressing.
	f.StringVar(&g.stores.S3.Endpoint, "s3-endpoint", "", "S3-compatible endpoint for s3:// snapshot locations (default: AWS_ENDPOINT_URL_S3, else AWS)")
	f.StringVar(&g.stores.AgeIdentity, "age-identity", "", "age identity file (age-keygen's, or an SSH private key) that decrypts snapshots saved with --encrypt")
	f.BoolVar(&g.stores.S3.PathStyle, "s3-path-style", false, "address S3 buckets by path (bucket in the URL path), as most S3-compatible servers want")
	f.StringVar(&g.cpuProfile, "cpu-profile", "", "write a Go CPU profile of this run to this file (go tool pprof reads it)")
	if err := f.MarkHidden("cpu-profile"); err != nil {
		panic(err)
	}
}

// stopProfile ends the CPU profile --cpu-profile started.
var stopProfile = func() {}

func (g *globals) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	stopProfile = func() {
		pprof.StopCPUProfile()
		f.Close()
	}
	return nil
}

// passOn lists the global flags a child etcdpilot needs to see what this
// one sees: the cache, state and catalog, and the log settings.
func (g *globals) passOn() []string {
	out := []string{"--log-level", g.logLevel, "--log-format", g.logFormat}
	if g.offline {
		out = append(out, "--offline")
	}
	for flag, v := range map[string]string{"--cache-dir": g.cacheDir, "--state-dir": g.stateDir, "--catalog": g.catalogF} {
		if v != "" {
			out = append(out, flag, v)
		}
	}
	return out
}

// catalog returns the release catalog: the notes (--catalog FILE, else
// the embedded ones) merged with the module proxy's release list (cached
// under the state directory; --offline uses only the cache). A proxy that
// fails is a warning, once.
func (g *globals) catalog() (*catalog.Catalog, error) {
	if g.cat != nil {
		return g.cat, nil
	}
	c, err := g.openCatalog(false)
	if err != nil {
		return nil, err
	}
	if c.Fresh.Warning != "" && g.log != nil {
		g.log.Warn(c.Fresh.Warning)
	}
	g.cat = c
	return c, nil
}

func (g *globals) openCatalog(refresh bool) (*catalog.Catalog, error) {
	return catalog.Open(context.Background(), catalog.OpenOptions{
		File: g.catalogF, Cache: catalog.FeedCache{Path: catalog.CachePath(g.root())},
		Offline: g.offline, Refresh: refresh, Proxy: catalog.ProxyFromEnv(os.Getenv),
	})
}

// fromEnv applies ETCDCTL_* variables to flags not given on the command line.
func (g *globals) fromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		env, ok := envFlags[fl.Name]
		if !ok || fl.Changed || err != nil {
			return
		}
		if v, set := os.LookupEnv(env); set && v != "" {
			if fl.Name == "endpoints" {
				// StringSlice.Set appends after the first call; reset by
				// replacing the whole value.
				g.conn.Endpoints = strings.Split(v, ",")
				return
			}
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	if u, p, ok := strings.Cut(g.conn.User, ":"); ok && g.conn.Password == "" {
		g.conn.User, g.conn.Password = u, p
	}
	g.conn.TakeCredentials()
	if err := g.askPassword(cmd); err != nil {
		return err
	}
	g.endpointsGiven = []string{}
	for _, name := range []string{"endpoints", "cacert", "cert", "key"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			g.endpointsGiven = append(g.endpointsGiven, "--"+name)
		}
	}
	if err := checkPositive(cmd); err != nil {
		return err
	}
	if !g.completing {
		if err := g.startProfile(); err != nil {
			return err
		}
	}
	if err := checkLists(cmd); err != nil {
		return err
	}
	if g.log, err = logging.New(cmd.ErrOrStderr(), g.logLevel, g.logFormat); err != nil {
		return err
	}
	g.stores.Log = func(msg string) { g.log.Warn(msg) }
	if g.conn.InsecureSkipVerify {
		g.log.Warn("--insecure-skip-tls-verify: the servers' certificates are not checked, so anyone on the network path can read and change what etcdpilot sends")
	}
	if g.stateDir == "" {
		for _, d := range sandbox.Leftovers() {
			g.log.Warn("{dir} is from an earlier etcdpilot: root's state is now {new}, shared with the agent; move it there (mv {dir} {new}/) or pass --state-dir {old}",
				"dir", d, "new", sandbox.SystemRoot, "old", filepath.Dir(d))
		}
	}
	return nil
}

// progress is where progress bars go: stderr for people; through the
// logger, one record per line, with --log-format json.
func (g *globals) progress(cmd *cobra.Command) io.Writer {
	if g.logFormat == "json" {
		return logging.Writer(g.log, slog.LevelInfo)
	}
	return cmd.ErrOrStderr()
}

// positiveAnnotation marks flags whose value must be above zero.
const positiveAnnotation = "etcdpilot/positive"

// positive marks flags of cmd that must be above zero when given.
func positive(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		fs := cmd.Flags()
		if fs.Lookup(n) == nil {
			fs = cmd.PersistentFlags()
		}
		if err := fs.SetAnnotation(n, positiveAnnotation, []string{"true"}); err != nil {
			panic(err)
		}
	}
}

// checkPositive refuses a zero or negative value of a flag marked
// positive: a timeout of 0 would fail at once, a count of 0 would do
// nothing (or, before, silently fall back to a default).
func checkPositive(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if err != nil || !fl.Changed || fl.Annotations[positiveAnnotation] == nil {
			return
		}
		v := fl.Value.String()
		bad := strings.HasPrefix(v, "-") || v == "0" || v == "0s"
		if d, perr := time.ParseDuration(v); perr == nil && d <= 0 {
			bad = true
		}
		if bad {
			err = fmt.Errorf("--%s %s: must be above zero", fl.Name, v)
		}
	})
	return err
}

// checkLists refuses a list flag given empty, or with an empty entry
// ("--from ”" must not fall back to the live cluster, "--from
// 3.5.36,,3.6.17" must not plan two members).
func checkLists(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		sv, ok := fl.Value.(pflag.SliceValue)
		if err != nil || !fl.Changed || !ok {
			return
		}
		vals := sv.GetSlice()
		if len(vals) == 0 {
			err = fmt.Errorf("--%s is empty: give a value, or leave the flag out", fl.Name)
			return
		}
		for i, v := range vals {
			if strings.TrimSpace(v) == "" {
				err = fmt.Errorf("--%s %q: entry %d is empty", fl.Name, strings.Join(vals, ","), i+1)
				return
			}
		}
	})
	return err
}

func (g *globals) binaries(out io.Writer) *binaries.Manager {
	m := &binaries.Manager{CacheDir: g.cacheDir, Out: out}
	if c, err := g.catalog(); err == nil {
		m.Known = c.Versions
	}
	return m
}

func (g *globals) root() string {
	if g.stateDir != "" {
		return g.stateDir
	}
	return sandbox.Root()
}

func (g *globals) printer(w io.Writer) (printer.Printer, error) {
	return printer.New(g.output, w)
}

// print writes v to the command's output in the chosen format.
func (g *globals) print(cmd *cobra.Command, v any) error {
	pr, err := g.printer(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	return pr.Print(v)
}

// openSandbox opens a sandbox by name.
func (g *globals) openSandbox(name string, out io.Writer) (*sandbox.Sandbox, error) {
	sb, err := sandbox.Open(g.root(), name, g.binaries(out))
	if err != nil {
		return nil, err
	}
	sb.Log = g.log
	return sb, nil
}

// printPlan prints a plan and exits 1, quietly, when the plan refuses.
func (g *globals) printPlan(cmd *cobra.Command, p any, refusal string) error {
	if err := g.print(cmd, p); err != nil {
		return err
	}
	if refusal != "" {
		return quietNo
	}
	return nil
}

// targetEnv is what the command line gives a target besides its flags.
func (g *globals) targetEnv(cmd *cobra.Command) target.Env {
	return target.Env{Conn: g.conn, Given: func(n string) bool { return cmd.Flags().Changed(n) }, ConnGiven: g.endpointsGiven,
		Root: g.root(), Binaries: g.binaries(g.progress(cmd)), Out: cmd.ErrOrStderr(), Log: g.log}
}

// open opens the cluster the target flags name; the caller closes it.
func (g *globals) open(cmd *cobra.Command, f target.Flags, need target.Need) (*target.Target, error) {
	return target.Open(cmd.Context(), f, g.targetEnv(cmd), need)
}

// askPassword asks for the password, as etcdctl does, when --user names
// no password and none was given otherwise: on a terminal, without echo.
// Without a terminal (cron, CI) nothing is asked and etcd's refusal says
// what is missing.
func (g *globals) askPassword(cmd *cobra.Command) error {
	if g.completing || g.conn.User == "" || g.conn.Password != "" || !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Password for %s: ", g.conn.User)
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return fmt.Errorf("read the password of --user %s: %w", g.conn.User, err)
	}
	g.conn.Password = string(pw)
	return nil
}
