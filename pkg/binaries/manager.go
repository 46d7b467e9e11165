// Package binaries installs etcd, etcdctl and etcdutl of any version into a
// local cache: from an official release tarball checked against its
// SHA256SUMS, built from Go module source, or imported from a directory.
//
// The cache holds one directory per version, <cache>/etcd/v3.5.35, filled in
// a temporary directory and renamed into place, so a reader never sees half an
// install. A per-version file lock lets concurrent installs of one version
// (parallel test packages, two shells) wait for each other instead of racing.
package binaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// Source says where binaries come from.
type Source string

// Sources.
const (
	SourceAuto    Source = "auto"    // release, then source
	SourceRelease Source = "release" // official tarball + SHA256SUMS
	SourceBuild   Source = "source"  // go build from module source
	SourceDir     Source = "dir"     // copy from a directory
)

// ParseSource checks a --source value.
func ParseSource(s string) (Source, error) {
	switch Source(s) {
	case SourceAuto, SourceRelease, SourceBuild, SourceDir:
		return Source(s), nil
	}
	return "", fmt.Errorf("unknown source %q: use auto, release, source or dir", s)
}

// DefaultMirror is where etcd publishes release tarballs.
const DefaultMirror = "https://github.com/etcd-io/etcd/releases/download"

// Tools are the binaries of an install. etcdutl does not exist before 3.5.
var Tools = []string{"etcd", "etcdctl", "etcdutl"}

// Manager installs and finds binaries in a cache directory.
type Manager struct {
	// CacheDir is the root of the cache (DefaultCacheDir when empty).
	CacheDir string
	// Mirror is the base URL of release tarballs (DefaultMirror when empty).
	Mirror string
	// Out receives progress; nil means silent.
	Out io.Writer
	// Known, when set, lists the released versions; Install refuses others
	// and names the nearest.
	Known func() []string
	// GoCmd is the go binary used for source builds ("go" when empty).
	GoCmd string
}

// Install describes one cached version.
type Install struct {
	Version     string    `json:"version"`
	Dir         string    `json:"dir"`
	Source      Source    `json:"source"`
	Origin      string    `json:"origin"` // URL, module version or directory
	Tools       []string  `json:"tools"`
	InstalledAt time.Time `json:"installedAt"`
	SHA256      string    `json:"sha256,omitempty"` // of the release tarball
	Seconds     float64   `json:"seconds"`          // time the install took
}

// Bin returns the path of a tool of this install, or an error when the
// install has no such tool (etcdutl before 3.5).
func (in *Install) Bin(tool string) (string, error) {
	for _, t := range in.Tools {
		if t == tool {
			return filepath.Join(in.Dir, tool), nil
		}
	}
	return "", fmt.Errorf("etcd %s install has no %s (it has %s)", in.Version, tool, strings.Join(in.Tools, ", "))
}

// DefaultCacheDir is $ETCDPILOT_CACHE_DIR, else $XDG_CACHE_HOME/etcdpilot,
// else ~/.cache/etcdpilot.
func DefaultCacheDir() string {
	if d := os.Getenv("ETCDPILOT_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "etcdpilot")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "etcdpilot")
	}
	return filepath.Join(os.TempDir(), "etcdpilot-cache")
}

func (m *Manager) cacheDir() string {
	if m.CacheDir != "" {
		return m.CacheDir
	}
	return DefaultCacheDir()
}

func (m *Manager) out() io.Writer {
	if m.Out == nil {
		return io.Discard
	}
	return m.Out
}

func (m *Manager) versionDir(v string) string { return filepath.Join(m.cacheDir(), "etcd", v) }

const metaFile = "install.json"

// Get returns the cached install of v, or an error wrapping os.ErrNotExist.
func (m *Manager) Get(v string) (*Install, error) {
	cv, err := version.Canonical(v)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(m.versionDir(cv), metaFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("etcd %s is not installed (run: etcdpilot etcd install %s): %w", version.Plain(cv), version.Plain(cv), os.ErrNotExist)
		}
		return nil, err
	}
	var in Install
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(m.versionDir(cv), metaFile), err)
	}
	in.Dir = m.versionDir(cv) // the cache may have moved
	return &in, nil
}

// List returns the cached installs, oldest version first.
func (m *Manager) List() ([]*Install, error) {
	entries, err := os.ReadDir(filepath.Join(m.cacheDir(), "etcd"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Install
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if in, err := m.Get(e.Name()); err == nil {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return version.Compare(out[i].Version, out[j].Version) < 0 })
	return out, nil
}

// Options tune one Install call.
type Options struct {
	Source Source
	// Dir is the directory to import from with SourceDir.
	Dir string
	// Force reinstalls even when the version is cached.
	Force bool
}

// Install makes version v available in the cache and returns it. A cached
// install is reused unless opts.Force is set.
func (m *Manager) Install(ctx context.Context, v string, opts Options) (*Install, error) {
	cv, err := m.check(v)
	if err != nil {
		return nil, err
	}
	if opts.Source == "" {
		opts.Source = SourceAuto
	}
	if !opts.Force {
		if in, err := m.Get(cv); err == nil {
			return in, nil
		}
	}
	lockPath := filepath.Join(m.cacheDir(), "locks", cv+".lock")
	lock, err := fsutil.LockWait(ctx, lockPath, func() {
		fmt.Fprintf(m.out(), "another etcdpilot is installing etcd %s; waiting for it\n", version.Plain(cv))
	})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	// Someone else may have finished the install while we waited.
	if !opts.Force {
		if in, err := m.Get(cv); err == nil {
			return in, nil
		}
	}
	start := time.Now()
	in, err := m.installLocked(ctx, cv, opts)
	if err != nil {
		return nil, err
	}
	in.Seconds = time.Since(start).Seconds()
	if err := m.commit(in); err != nil {
		return nil, err
	}
	return m.Get(cv)
}

func (m *Manager) installLocked(ctx context.Context, cv string, opts Options) (*Install, error) {
	switch opts.Source {
	case SourceRelease:
		return m.fromRelease(ctx, cv)
	case SourceBuild:
		return m.fromSource(ctx, cv)
	case SourceDir:
		return m.fromDir(ctx, cv, opts.Dir)
	case SourceAuto:
		in, relErr := m.fromRelease(ctx, cv)
		if relErr == nil {
			return in, nil
		}
		if errors.Is(relErr, ErrChecksum) {
			return nil, relErr // a bad download is not a reason to try something else
		}
		fmt.Fprintf(m.out(), "release download failed (%v); building from module source instead\n", relErr)
		in, srcErr := m.fromSource(ctx, cv)
		if srcErr != nil {
			return nil, fmt.Errorf("release: %v; source: %w", relErr, srcErr)
		}
		return in, nil
	}
	return nil, fmt.Errorf("unknown source %q", opts.Source)
}

// check validates the version against the known releases.
func (m *Manager) check(v string) (string, error) {
	cv, err := version.Canonical(v)
	if err != nil {
		if m.Known != nil {
			return "", fmt.Errorf("%w; known versions near it: %s", err, strings.Join(Nearest(m.Known(), v, 5), ", "))
		}
		return "", err
	}
	if version.Compare(cv, "v3.4.0") < 0 {
		return "", fmt.Errorf("etcd %s is older than 3.4, the oldest etcdpilot supports", version.Plain(cv))
	}
	if m.Known == nil && version.Compare(cv, "v3.8.0-0") >= 0 {
		return "", fmt.Errorf("etcd %s is outside the supported range 3.4 to 3.7", version.Plain(cv))
	}
	if m.Known != nil {
		known := m.Known()
		for _, k := range known {
			if version.Compare(k, cv) == 0 {
				return cv, nil
			}
		}
		return "", fmt.Errorf("etcd %s is not a known release; nearest known versions: %s", version.Plain(cv), strings.Join(Nearest(known, v, 5), ", "))
	}
	return cv, nil
}

// staging returns a fresh temporary directory inside the cache, on the same
// file system as the final directory so that the rename is atomic.
func (m *Manager) staging(cv string) (string, error) {
	root := filepath.Join(m.cacheDir(), "etcd")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(root, ".staging-"+cv+"-")
}

// commit writes the metadata into the staging directory and renames it into
// place, replacing an older install of the same version.
func (m *Manager) commit(in *Install) error {
	staging := in.Dir
	in.InstalledAt = time.Now().UTC()
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(staging, metaFile), b, 0o644); err != nil {
		return err
	}
	for _, t := range in.Tools {
		if err := syncFile(filepath.Join(staging, t)); err != nil {
			return err
		}
	}
	final := m.versionDir(in.Version)
	if fsutil.Exists(final) {
		old := final + ".old-" + fmt.Sprint(time.Now().UnixNano())
		if err := os.Rename(final, old); err != nil {
			return err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(staging, final); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(final))
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Nearest returns up to n known versions closest to v: the same minor first,
// ordered by distance of the patch number.
func Nearest(known []string, v string, n int) []string {
	target := strings.TrimPrefix(strings.TrimSpace(v), "v")
	var maj, min, patch int
	fmt.Sscanf(target, "%d.%d.%d", &maj, &min, &patch)
	type cand struct {
		v    string
		dist int
	}
	var cs []cand
	for _, k := range known {
		var km, kn, kp int
		fmt.Sscanf(version.Plain(k), "%d.%d.%d", &km, &kn, &kp)
		d := abs(kn-min)*1000 + abs(kp-patch)
		if km != maj {
			d += 1000000
		}
		cs = append(cs, cand{version.Plain(k), d})
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].dist != cs[j].dist {
			return cs[i].dist < cs[j].dist
		}
		return version.Compare(cs[i].v, cs[j].v) > 0
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].v)
	}
	sort.Slice(out, func(i, j int) bool { return version.Compare(out[i], out[j]) < 0 })
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
