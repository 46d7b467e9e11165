package printer

import (
	"runtime"
	"runtime/debug"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
)

// Build is what `etcdpilot version` says: the release, the commit it was
// built from, the Go toolchain and how fresh the release catalog is.
type Build struct {
	Version string `json:"version"`
	// Commit and CommitTime come from the VCS stamp Go writes into the
	// binary; Modified says the tree had uncommitted changes.
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
	// Catalog is the release catalog's freshness, read without asking
	// the module proxy.
	Catalog catalog.Freshness `json:"catalog"`
}

// ReadBuild fills a Build from the running binary.
func ReadBuild(version string, fresh catalog.Freshness) *Build {
	b := &Build{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Catalog: fresh}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

func buildView(b *Build) *view {
	commit := "unknown (built without version control information)"
	if b.Commit != "" {
		commit = b.Commit
		if b.CommitTime != "" {
			commit += " (" + b.CommitTime + ")"
		}
		if b.Modified {
			commit += ", with uncommitted changes"
		}
	}
	return &view{
		head: []string{"etcdpilot " + b.Version},
		cols: []string{"FIELD", "VALUE"},
		rows: [][]string{
			{"commit", commit},
			{"go", b.GoVersion + " " + b.Platform},
			{"catalog", b.Catalog.Describe(time.Now())},
		},
	}
}
