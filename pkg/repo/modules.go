package repo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Module sets: how a module's version relates to etcd's release.
const (
	// SetLockstep modules are published with every etcd release at its
	// version (api, client/pkg, client/v3, pkg, server, etcdctl, etcdutl,
	// tests; raft on 3.5; client/v2 as v2.3XX.N).
	SetLockstep = "lockstep"
	// SetSeparate modules have their own releases (go.etcd.io/raft/v3
	// from 3.6 on, go.etcd.io/bbolt).
	SetSeparate = "separate"
	// SetLegacy modules are etcd's pre-3.5 paths (github.com/coreos/etcd,
	// go.etcd.io/etcd without a major suffix).
	SetLegacy = "legacy"
)

// EtcdModule is one etcd module a go.mod requires, and the etcd release
// its version is.
type EtcdModule struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Set     string `json:"set"`
	// Etcd is the etcd release ("3.5.9", "3.6.0-alpha.0"); for a
	// pseudo-version, the release its commit follows.
	Etcd string `json:"etcd,omitempty"`
	// Commit and Time describe a pseudo-version's commit.
	Commit string    `json:"commit,omitempty"`
	Time   time.Time `json:"time,omitempty"`
	// Replace is the replacement, as go.mod writes it; LocalReplace means
	// a directory, whose version nobody can check.
	Replace      string `json:"replace,omitempty"`
	LocalReplace bool   `json:"localReplace,omitempty"`
	// FromVersionGo: Etcd was read from the commit's version/version.go.
	FromVersionGo bool `json:"fromVersionGo,omitempty"`
}

// lockstepPaths are etcd's modules published at each release's version.
var lockstepPaths = map[string]bool{
	"go.etcd.io/etcd/api/v3":        true,
	"go.etcd.io/etcd/client/pkg/v3": true,
	"go.etcd.io/etcd/client/v3":     true,
	"go.etcd.io/etcd/client/v2":     true, // v2.3XX.N: 3.XX.N
	"go.etcd.io/etcd/pkg/v3":        true,
	"go.etcd.io/etcd/server/v3":     true,
	"go.etcd.io/etcd/etcdctl/v3":    true,
	"go.etcd.io/etcd/etcdutl/v3":    true,
	"go.etcd.io/etcd/tests/v3":      true,
	"go.etcd.io/etcd/raft/v3":       true, // 3.5 only; go.etcd.io/raft/v3 after
	"go.etcd.io/etcd/v3":            true,
}

// ClassifyModule says whether path is one of etcd's modules and, if so,
// which etcd release version is.
func ClassifyModule(path, version string) (EtcdModule, bool) {
	m := EtcdModule{Path: path, Version: version}
	switch {
	case lockstepPaths[path]:
		m.Set = SetLockstep
	case path == "go.etcd.io/raft/v3" || path == "go.etcd.io/bbolt":
		m.Set = SetSeparate
		return m, true
	case path == "github.com/coreos/etcd" || path == "go.etcd.io/etcd" || strings.HasPrefix(path, "github.com/coreos/etcd/"):
		m.Set = SetLegacy
	case strings.HasPrefix(path, "go.etcd.io/etcd/"):
		// Another etcd module (tools, contrib): versioned with etcd too.
		m.Set = SetLockstep
	default:
		return m, false
	}
	base := strings.TrimSuffix(version, "+incompatible")
	if module.IsPseudoVersion(version) {
		b, _ := module.PseudoVersionBase(version)
		m.Commit, _ = module.PseudoVersionRev(version)
		m.Time, _ = module.PseudoVersionTime(version)
		base = b
	}
	m.Etcd = etcdRelease(path, base)
	return m, true
}

// etcdRelease maps a module version to the etcd release: v3.5.9 is 3.5.9,
// client/v2's v2.305.9 is 3.5.9; v0.x (the pre-3.5 go.etcd.io/etcd
// pseudo-versions) has none.
func etcdRelease(path, v string) string {
	if v == "" || !semver.IsValid(v) {
		return ""
	}
	if semver.Major(v) == "v2" {
		// v2.305.9-rc.0 -> 3.5.9-rc.0
		rest := strings.TrimPrefix(v, "v2.")
		minor, tail, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(minor)
		if err != nil || n < 300 {
			return ""
		}
		return fmt.Sprintf("3.%d.%s", n-300, tail)
	}
	if semver.Major(v) != "v3" {
		return ""
	}
	return strings.TrimPrefix(v, "v")
}

// Describe says what the module is, for messages.
func (m EtcdModule) Describe() string {
	var s string
	switch {
	case m.FromVersionGo:
		s = fmt.Sprintf("etcd %s by its version/version.go (commit %s, %s)", m.Etcd, m.Commit, m.Time.Format("2006-01-02"))
	case m.Etcd != "" && m.Commit != "":
		s = fmt.Sprintf("a commit after etcd %s (%s, %s)", m.Etcd, m.Commit, m.Time.Format("2006-01-02"))
	case m.Etcd != "":
		s = "etcd " + m.Etcd
	case m.Commit != "":
		s = fmt.Sprintf("an etcd commit (%s, %s)", m.Commit, m.Time.Format("2006-01-02"))
	default:
		s = m.Version
	}
	if m.LocalReplace {
		s += ", replaced by " + m.Replace
	}
	return s
}

// key is what lockstep modules must share: the release and the commit.
func (m EtcdModule) key() string { return m.Etcd + "@" + m.Commit }
