package binaries

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// fromDir copies the tools from dir (for example Debian's /usr/bin, where
// etcd-server and etcd-client put etcd and etcdctl).
func (m *Manager) fromDir(ctx context.Context, cv, dir string) (in *Install, err error) {
	if dir == "" {
		return nil, fmt.Errorf("--source dir needs --dir DIR holding etcd and etcdctl")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--dir %s: not a directory", dir)
	}
	staging, err := m.staging(cv)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	found := map[string]bool{}
	for _, t := range Tools {
		src := filepath.Join(dir, t)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := fsutil.CopyFile(src, filepath.Join(staging, t), 0o755, true); err != nil {
			return nil, err
		}
		found[t] = true
	}
	tools, err := present(found)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := checkVersion(filepath.Join(staging, "etcd"), cv); err != nil {
		return nil, err
	}
	fmt.Fprintf(m.out(), "imported %s from %s\n", strings.Join(tools, ", "), dir)
	return &Install{Version: cv, Dir: staging, Source: SourceDir, Origin: dir, Tools: tools}, nil
}

var versionLine = regexp.MustCompile(`(?m)^etcd Version:\s*(\S+)`)

// BinaryVersion runs "etcd --version" and returns the version it reports.
func BinaryVersion(etcdBin string) (string, error) {
	out, err := exec.Command(etcdBin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v: %s", etcdBin, err, strings.TrimSpace(string(out)))
	}
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version printed no version: %s", etcdBin, strings.TrimSpace(string(out)))
	}
	return "v" + strings.TrimPrefix(string(m[1]), "v"), nil
}
