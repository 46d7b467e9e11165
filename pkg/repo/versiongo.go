package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// versionRe finds the release in etcd's version/version.go.
var versionRe = regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([0-9][^"]*)"`)

// releaseOfCommit reads the release a pseudo-version of etcd's pre-3.5
// module carries from that commit's version/version.go, fetched through
// the module proxy (go mod download, the user's GOPROXY and GOFLAGS).
func releaseOfCommit(ctx context.Context, gobin, path, version string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	scratch, err := os.MkdirTemp("", "etcdpilot-versiongo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", path+"@"+version)
	cmd.Dir = scratch
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	var d struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || d.Dir == "" {
		if d.Error == "" {
			d.Error = firstLine(out.String())
		}
		return "", fmt.Errorf("go mod download %s@%s: %v %s", path, version, runErr, d.Error)
	}
	b, err := os.ReadFile(filepath.Join(d.Dir, "version", "version.go"))
	if err != nil {
		return "", err
	}
	m := versionRe.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s@%s: no Version in version/version.go", path, version)
	}
	return string(m[1]), nil
}
