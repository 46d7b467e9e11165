// Package sandbox runs local etcd clusters of any version: real member
// processes on 127.0.0.1 with free ports, data directories, logs and a state
// file under a state directory. The processes outlive the command that
// started them. A Sandbox is also the local implementation of
// runtime.Runtime.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/pki"
)

// Member is one member's configuration and process.
type Member struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	ClientPort int    `json:"clientPort"`
	PeerPort   int    `json:"peerPort"`
	// ClientURL is the URL the member listens on; AdvertiseClientURL, when
	// set, is the one it advertises (a fault-injection proxy, for example).
	ClientURL          string    `json:"clientURL"`
	AdvertiseClientURL string    `json:"advertiseClientURL,omitempty"`
	PeerURL            string    `json:"peerURL"`
	DataDir            string    `json:"dataDir"`
	LogFile            string    `json:"logFile"`
	Cert               *pki.Pair `json:"cert,omitempty"`
	// InitialCluster and InitialClusterState are used on the first start.
	InitialCluster      string   `json:"initialCluster"`
	InitialClusterState string   `json:"initialClusterState"`
	ExtraFlags          []string `json:"extraFlags,omitempty"`
	Process             proc     `json:"process"`
}

// Endpoint is the client URL the member advertises.
func (m *Member) Endpoint() string {
	if m.AdvertiseClientURL != "" {
		return m.AdvertiseClientURL
	}
	return m.ClientURL
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool { return m.Process.alive() }

// Paused reports whether the member's process is stopped by SIGSTOP.
func (m *Member) Paused() bool { return m.Process.stopped() }

// TLSFiles are the CA and client certificate of a TLS sandbox.
type TLSFiles struct {
	CA     string   `json:"ca"`
	Client pki.Pair `json:"client"`
}

// State is the content of a sandbox's state.json.
type State struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Token     string    `json:"token"`
	TLS       *TLSFiles `json:"tls,omitempty"`
	Members   []*Member `json:"members"`
	// DieWithParent: the members die with the process that starts them
	// (a rehearsal's shadow), instead of outliving it.
	DieWithParent bool `json:"dieWithParent,omitempty"`
}

// Member returns the member called name.
func (s *State) Member(name string) (*Member, error) {
	for _, m := range s.Members {
		if m.Name == name {
			return m, nil
		}
	}
	var names []string
	for _, m := range s.Members {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("sandbox %s has no member %q (members: %v)", s.Name, name, names)
}

// Root is etcdpilot's state directory (sandboxes, journals of real
// clusters' changes, the release cache): $ETCDPILOT_STATE_DIR, else
// $XDG_STATE_HOME/etcdpilot, else for root /var/lib/etcdpilot (the
// agent's, in its systemd unit and its pod: the node's CLI and the agent
// then see each other's journals), else ~/.local/state/etcdpilot.
func Root() string {
	if d := os.Getenv("ETCDPILOT_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "etcdpilot")
	}
	if os.Geteuid() == 0 {
		return SystemRoot
	}
	if d := UserRoot(); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "etcdpilot-state")
}

// SystemRoot is root's state directory.
const SystemRoot = "/var/lib/etcdpilot"

// UserRoot is ~/.local/state/etcdpilot ("" without a home directory); it
// was root's state directory too before SystemRoot.
func UserRoot() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(h, ".local", "state", "etcdpilot")
}

// Leftovers names what an earlier etcdpilot left in root's former state
// directory (~/.local/state/etcdpilot) when root's is now SystemRoot:
// journals of changes and sandboxes, which the default no longer finds.
func Leftovers() []string {
	if os.Getenv("ETCDPILOT_STATE_DIR") != "" || os.Getenv("XDG_STATE_HOME") != "" || os.Geteuid() != 0 {
		return nil
	}
	old := UserRoot()
	if old == "" {
		return nil
	}
	var out []string
	for _, d := range []string{"upgrades", "sandboxes"} {
		if es, err := os.ReadDir(filepath.Join(old, d)); err == nil && len(es) > 0 {
			out = append(out, filepath.Join(old, d))
		}
	}
	return out
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// ValidName checks a sandbox or member name.
func ValidName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s name %q: use 1-41 lower-case letters, digits and dashes", kind, name)
	}
	return nil
}

// ErrCorruptState marks a state file that is not valid JSON.
var ErrCorruptState = errors.New("corrupt sandbox state")

func sandboxDir(root, name string) string { return filepath.Join(root, "sandboxes", name) }

func readState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		name := filepath.Base(dir)
		return nil, fmt.Errorf("%w: %s cannot be read (%v); its members may still run: etcdpilot sandbox down --name %s stops them (found in the process table) and removes the sandbox", ErrCorruptState, filepath.Join(dir, "state.json"), err, name)
	}
	return &st, nil
}

func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, "state.json"), append(b, '\n'), 0o600)
}

// List returns the names of the sandboxes under root.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "sandboxes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && fsutil.Exists(filepath.Join(root, "sandboxes", e.Name(), "state.json")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
