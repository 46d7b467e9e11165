package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// versionRe finds the release in etcd's version/version.go.
var versionRe = regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([0-9][^"]*)"`)

// releaseOfCommit reads the release a pseudo-version of etcd's pre-3.5
// module carries from that commit's version/version.go, fetched through
// the module proxy (go mod download, the user's GOPROXY and GOFLAGS).
func releaseOfCommit(ctx context.Context, gobin, path, version string) (string, error) {
	got, err := download(ctx, gobin, []string{path + "@" + version})
	if err != nil {
		return "", err
	}
	if len(got) != 1 || got[0].Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %+v", path, version, got)
	}
	b, err := os.ReadFile(filepath.Join(got[0].Dir, "version", "version.go"))
	if err != nil {
		return "", err
	}
	m := versionRe.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s@%s: no Version in version/version.go", path, version)
	}
	return string(m[1]), nil
}
