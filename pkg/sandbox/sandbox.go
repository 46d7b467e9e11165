package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/logging"
	"github.com/etcdpilot/etcdpilot/pkg/pki"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Sandbox is a handle on one sandbox directory.
type Sandbox struct {
	Name string
	Dir  string
	// Binaries finds (and if needed installs) the etcd binaries.
	Binaries *binaries.Manager
	// StopTimeout bounds a graceful stop before SIGKILL (default 15s).
	StopTimeout time.Duration
	// StartTimeout bounds the wait for a started member to listen (default 60s).
	StartTimeout time.Duration
	// Log receives progress; nil is silent.
	Log *slog.Logger
	// User and Password reach members with etcd's auth on (a shadow of a
	// cluster that has it).
	User, Password string
}

// Options describe a new sandbox.
type Options struct {
	Name    string
	Members int
	// Versions holds one version for all members, or one per member.
	Versions []string
	TLS      bool
	// ExtraFlags are added to every member's command line.
	ExtraFlags []string
	// BeforeStart may adjust members (for example AdvertiseClientURL) before
	// their first start.
	BeforeStart func(*State) error
	// DieWithParent ties the members' lives to the process that starts
	// them (State.DieWithParent).
	DieWithParent bool
}

// Open returns the sandbox called name under root. It checks the name
// (so that no name reaches outside root) and that the sandbox exists; a
// state file that cannot be read shows up in State, so that Destroy still
// works on it.
func Open(root, name string, bins *binaries.Manager) (*Sandbox, error) {
	if err := ValidName("sandbox", name); err != nil {
		return nil, err
	}
	dir := sandboxDir(root, name)
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			names, _ := List(root)
			return nil, fmt.Errorf("sandbox %q does not exist (existing: %v); create it with: etcdpilot sandbox up --name %s", name, names, name)
		}
		return nil, err
	}
	return &Sandbox{Name: name, Dir: dir, Binaries: bins}, nil
}

// State reads the current state file.
func (s *Sandbox) State() (*State, error) { return readState(s.Dir) }

// Update changes the state under the sandbox's lock, so that concurrent
// etcdpilot processes do not lose each other's changes.
func (s *Sandbox) Update(fn func(*State) error) error {
	lock, err := fsutil.LockWait(context.Background(), filepath.Join(s.Dir, "state.lock"), nil)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	st, err := readState(s.Dir)
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return writeState(s.Dir, st)
}

func (s *Sandbox) log() *slog.Logger { return logging.OrDiscard(s.Log) }

// Create makes and starts a new sandbox and waits until it is healthy.
func Create(ctx context.Context, root string, bins *binaries.Manager, opts Options, log *slog.Logger) (*Sandbox, error) {
	// An empty name is refused like any bad one (it never becomes
	// "default" behind the user's back).
	if err := ValidName("sandbox", opts.Name); err != nil {
		return nil, err
	}
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Members < 1 || opts.Members > MaxMembers {
		return nil, fmt.Errorf("--members %d: a sandbox has 1 to %d members", opts.Members, MaxMembers)
	}
	versions, err := expandVersions(opts.Versions, opts.Members)
	if err != nil {
		return nil, err
	}
	dir := sandboxDir(root, opts.Name)
	if fsutil.Exists(dir) {
		return nil, fmt.Errorf("sandbox %q already exists in %s; remove it with: etcdpilot sandbox down --name %s", opts.Name, dir, opts.Name)
	}
	for _, v := range uniq(versions) {
		if _, err := bins.Install(ctx, v, binaries.Options{}); err != nil {
			return nil, fmt.Errorf("etcd %s: %w", version.Plain(v), err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("sandbox %q already exists; remove it with: etcdpilot sandbox down --name %s", opts.Name, opts.Name)
		}
		return nil, err
	}
	s := &Sandbox{Name: opts.Name, Dir: dir, Binaries: bins, Log: log}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		lastErr = s.bootstrap(ctx, opts, versions)
		if lastErr == nil {
			return s, nil
		}
		s.killAll()
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
		s.log().Info("a port was taken by another process; retrying with new ports")
	}
	os.RemoveAll(dir)
	releasePorts(dir, nil)
	return nil, lastErr
}

func (s *Sandbox) bootstrap(ctx context.Context, opts Options, versions []string) error {
	// Start from a clean directory on every attempt.
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(s.Dir, e.Name()))
	}
	releasePorts(s.Dir, nil)
	st := &State{Name: opts.Name, CreatedAt: time.Now().UTC(), Token: "etcdpilot-" + opts.Name + "-" + randHex(4), DieWithParent: opts.DieWithParent}
	ports := newPortSet(s.Dir)
	for i := 0; i < opts.Members; i++ {
		name := fmt.Sprintf("m%d", i+1)
		m, err := s.newMember(name, versions[i], ports)
		if err != nil {
			return err
		}
		m.ExtraFlags = append([]string(nil), opts.ExtraFlags...)
		st.Members = append(st.Members, m)
	}
	var ic []string
	for _, m := range st.Members {
		ic = append(ic, m.Name+"="+m.PeerURL)
	}
	for _, m := range st.Members {
		m.InitialCluster = strings.Join(ic, ",")
		m.InitialClusterState = "new"
	}
	if opts.TLS {
		if err := s.makePKI(st); err != nil {
			return err
		}
	}
	if opts.BeforeStart != nil {
		if err := opts.BeforeStart(st); err != nil {
			return err
		}
	}
	if err := writeState(s.Dir, st); err != nil {
		return err
	}
	s.log().Info("starting sandbox {sandbox}: {members} members ({versions})", "sandbox", st.Name, "members", len(st.Members), "versions", describeVersions(versions))
	return s.StartAll(ctx)
}

// StartAll starts every member at once (a cluster's members must come up
// together to elect a leader) and waits until the cluster is healthy.
func (s *Sandbox) StartAll(ctx context.Context) error {
	st, err := s.State()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(st.Members))
	for i, m := range st.Members {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			errs[i] = s.start(ctx, name, "", nil)
		}(i, m.Name)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.WaitHealthy(wctx); err != nil {
		if dead := s.deadMembers(); dead != "" {
			return fmt.Errorf("sandbox %s did not start: %s", s.Name, dead)
		}
		return err
	}
	return nil
}

func (s *Sandbox) newMember(name, v string, ports *portSet) (*Member, error) {
	cp, err := ports.next()
	if err != nil {
		return nil, err
	}
	pp, err := ports.next()
	if err != nil {
		return nil, err
	}
	return &Member{
		Name:       name,
		Version:    version.MustCanonical(v),
		ClientPort: cp,
		PeerPort:   pp,
		ClientURL:  fmt.Sprintf("http://127.0.0.1:%d", cp),
		PeerURL:    fmt.Sprintf("http://127.0.0.1:%d", pp),
		DataDir:    filepath.Join(s.Dir, "members", name),
		LogFile:    filepath.Join(s.Dir, "logs", name+".log"),
	}, nil
}

func (s *Sandbox) makePKI(st *State) error {
	dir := filepath.Join(s.Dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := pki.NewCA(dir, "etcdpilot-sandbox-"+st.Name)
	if err != nil {
		return err
	}
	client, err := ca.Client(dir, "client")
	if err != nil {
		return err
	}
	st.TLS = &TLSFiles{CA: ca.Cert, Client: client}
	for _, m := range st.Members {
		if err := s.issueMemberCert(st, m, ca); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sandbox) issueMemberCert(st *State, m *Member, ca *pki.CA) error {
	p, err := ca.Server(filepath.Join(s.Dir, "pki"), m.Name, "127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	m.Cert = &p
	m.ClientURL = strings.Replace(m.ClientURL, "http://", "https://", 1)
	m.PeerURL = strings.Replace(m.PeerURL, "http://", "https://", 1)
	m.InitialCluster = strings.ReplaceAll(m.InitialCluster, "http://", "https://")
	return nil
}

// MaxMembers is the largest sandbox.
const MaxMembers = 15

// Destroy stops every member and removes the sandbox directory. The
// members are found in the state file and in the process table (every
// etcd whose --data-dir lies in the sandbox), so that a sandbox whose state
// file is lost or corrupt still stops all of its processes.
func (s *Sandbox) Destroy(ctx context.Context) error {
	procs := s.processes()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func(p proc) {
			defer wg.Done()
			p.signal(sigCont)
			p.signal(sigTerm)
			if !p.waitGone(5 * time.Second) {
				p.signal(sigKill)
				p.waitGone(5 * time.Second)
			}
		}(p)
	}
	wg.Wait()
	for _, p := range procs {
		if p.alive() {
			return fmt.Errorf("member process %d of sandbox %s survived SIGKILL; %s was not removed", p.PID, s.Name, s.Dir)
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return err
	}
	releasePorts(s.Dir, nil)
	return nil
}

// processes returns the sandbox's member processes: those in the state
// file and those the process table shows running on its data directories.
func (s *Sandbox) processes() []proc {
	seen := map[int]bool{}
	var out []proc
	if st, err := s.State(); err == nil {
		for _, m := range st.Members {
			if m.Process.alive() {
				seen[m.Process.PID] = true
				out = append(out, m.Process)
			}
		}
	}
	for _, p := range processesWithArgPrefix("--data-dir=" + filepath.Join(s.Dir, "members") + string(os.PathSeparator)) {
		if !seen[p.PID] {
			out = append(out, p)
		}
	}
	return out
}

// deadMembers describes members whose process has exited, with their logs.
func (s *Sandbox) deadMembers() string {
	st, err := s.State()
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, m := range st.Members {
		if !m.Running() {
			out = append(out, fmt.Sprintf("member %s exited; last log lines:\n%s", m.Name, LogTail(m.LogFile, 10)))
		}
	}
	return strings.Join(out, "\n")
}

// killAll kills every member at once (used when a bootstrap fails).
func (s *Sandbox) killAll() {
	st, err := s.State()
	if err != nil {
		return
	}
	for _, m := range st.Members {
		m.Process.signal(sigKill)
		m.Process.waitGone(5 * time.Second)
	}
}

// Endpoints returns the members' client URLs.
func (st *State) Endpoints() []string {
	var eps []string
	for _, m := range st.Members {
		eps = append(eps, m.Endpoint())
	}
	return eps
}

// Conn returns the connection settings for the sandbox.
func (st *State) Conn() conn.Config {
	c := conn.Config{Endpoints: st.Endpoints()}
	if st.TLS != nil {
		c.CACert, c.Cert, c.Key = st.TLS.CA, st.TLS.Client.Cert, st.TLS.Client.Key
	}
	return c
}

// Env returns the ETCDCTL_* variables that point etcdctl at the sandbox.
func (st *State) Env() EnvVars {
	env := EnvVars{{"ETCDCTL_ENDPOINTS", strings.Join(st.Endpoints(), ",")}}
	if st.TLS != nil {
		env = append(env, [2]string{"ETCDCTL_CACERT", st.TLS.CA}, [2]string{"ETCDCTL_CERT", st.TLS.Client.Cert}, [2]string{"ETCDCTL_KEY", st.TLS.Client.Key})
	}
	return env
}

func expandVersions(vs []string, n int) ([]string, error) {
	if len(vs) == 0 {
		vs = []string{DefaultVersion}
	}
	var out []string
	for _, v := range vs {
		cv, err := version.Canonical(v)
		if err != nil {
			return nil, err
		}
		out = append(out, cv)
	}
	if len(out) == 1 {
		for len(out) < n {
			out = append(out, out[0])
		}
		return out, nil
	}
	if len(out) != n {
		return nil, fmt.Errorf("--version lists %d versions for %d members: give one version, or one per member", len(out), n)
	}
	return out, nil
}

// DefaultVersion is the etcd version of a sandbox when none is given.
const DefaultVersion = "3.5.36"

func uniq(vs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func describeVersions(vs []string) string {
	var plain []string
	for _, v := range vs {
		plain = append(plain, version.Plain(v))
	}
	if len(uniq(vs)) == 1 {
		return "etcd " + plain[0]
	}
	return "etcd " + strings.Join(plain, ", ")
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
