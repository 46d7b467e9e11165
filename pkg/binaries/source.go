package binaries

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

const etcdMain = `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`

const etcdctlMain = `package main

import "go.etcd.io/etcd/etcdctl/v3/ctlv3"

func main() { ctlv3.MustStart() }
`

// fromSource builds etcd, etcdctl and etcdutl of version cv with the local Go
// toolchain: a throw-away module requires the server, etcdctl and etcdutl
// modules at cv; etcd and etcdctl are tiny mains around etcdmain.Main and
// ctlv3.MustStart; etcdutl's main package cannot be imported, so its cobra
// root (ctl.go, main.go of that very version, which add
// etcdutl.NewSnapshotCommand() and friends) is copied from the module.
func (m *Manager) fromSource(ctx context.Context, cv string) (in *Install, err error) {
	if version.Compare(cv, "v3.5.0") < 0 {
		return nil, fmt.Errorf("etcd %s cannot be built from module source (3.4 has no v3 server module); use --source release or --source dir (Debian's etcd-server package has 3.4.23)", version.Plain(cv))
	}
	goCmd := m.GoCmd
	if goCmd == "" {
		goCmd = "go"
	}
	if _, err := exec.LookPath(goCmd); err != nil {
		return nil, fmt.Errorf("building from source needs the Go toolchain: %w", err)
	}
	staging, err := m.staging(cv)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(staging, "src")
	defer func() {
		os.RemoveAll(work)
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	task := progress.Start(m.out(), fmt.Sprintf("building etcd %s from module source", version.Plain(cv)))
	defer func() { task.Done(err) }()

	for name, src := range map[string]string{"etcd": etcdMain, "etcdctl": etcdctlMain} {
		if err := writeMain(filepath.Join(work, "cmd", name), src); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte("module etcdpilot.local/etcdbuild\n\ngo 1.21\n"), 0o644); err != nil {
		return nil, err
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on", "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 30))
		}
		return out.String(), nil
	}
	task.Step("go get etcd " + version.Plain(cv) + " modules")
	// Some module mirrors cannot verify etcdutl (and so etcdctl, which
	// imports it in 3.5) for some versions; etcd alone is still worth having,
	// since etcdpilot talks to etcd through its own client and restores
	// snapshots with its own etcdutl library.
	var tools []string
	var getErr error
	for _, set := range [][]string{Tools, {"etcd", "etcdctl"}, {"etcd"}} {
		var mods []string
		for _, t := range set {
			mods = append(mods, toolModule[t]+"@"+cv)
		}
		if _, getErr = run(append([]string{"get"}, mods...)...); getErr == nil {
			tools = set
			break
		}
		if !strings.Contains(getErr.Error(), "etcdutl") && !strings.Contains(getErr.Error(), "etcdctl") {
			return nil, getErr
		}
	}
	if tools == nil {
		return nil, getErr
	}
	if len(tools) < len(Tools) {
		fmt.Fprintf(m.out(), "warning: the module mirror cannot provide all of etcd %s's modules; installing only %s\n", version.Plain(cv), strings.Join(tools, ", "))
		os.RemoveAll(filepath.Join(work, "cmd", "etcdctl"))
		if len(tools) == 2 {
			writeMain(filepath.Join(work, "cmd", "etcdctl"), etcdctlMain)
		}
	}
	var pkgs []string
	for _, t := range tools[:min(len(tools), 2)] {
		pkgs = append(pkgs, "./cmd/"+t)
	}
	if len(tools) == 3 {
		dir, err := run("list", "-m", "-f", "{{.Dir}}", "go.etcd.io/etcd/etcdutl/v3")
		if err != nil {
			return nil, err
		}
		if err := copyMainPackage(strings.TrimSpace(dir), filepath.Join(work, "cmd", "etcdutl")); err != nil {
			return nil, fmt.Errorf("etcdutl main package: %w", err)
		}
		pkgs = append(pkgs, "./cmd/etcdutl")
	}
	if _, err := run("mod", "tidy"); err != nil {
		return nil, err
	}
	task.Step("go build " + strings.Join(tools, ", ") + " " + version.Plain(cv))
	if _, err := run(append([]string{"build", "-trimpath", "-o", staging + string(os.PathSeparator)}, pkgs...)...); err != nil {
		return nil, err
	}
	if err := checkVersion(filepath.Join(staging, "etcd"), cv); err != nil {
		return nil, err
	}
	return &Install{Version: cv, Dir: staging, Source: SourceBuild, Origin: "go.etcd.io/etcd/server/v3@" + cv, Tools: tools}, nil
}

var toolModule = map[string]string{
	"etcd":    "go.etcd.io/etcd/server/v3",
	"etcdctl": "go.etcd.io/etcd/etcdctl/v3",
	"etcdutl": "go.etcd.io/etcd/etcdutl/v3",
}

func writeMain(dir, src string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
}

// copyMainPackage copies the non-test Go files of package main in src to dst.
func copyMainPackage(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("\npackage main")) && !bytes.HasPrefix(b, []byte("package main")) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no main package in %s", src)
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
