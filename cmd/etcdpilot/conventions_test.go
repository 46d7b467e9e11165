package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command that does something shows how it is called, and every
// flag an example names exists on that command.
func TestEveryLeafHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		if c.HasSubCommands() || !c.Runnable() || c.Hidden || (c.Parent() != nil && c.Parent().Name() == "completion") {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no example", c.CommandPath())
			return
		}
		calls := 0
		for _, line := range strings.Split(strings.ReplaceAll(c.Example, "\\\n", " "), "\n") {
			line, _, _ = strings.Cut(line, "#")
			if !strings.Contains(line, c.CommandPath()+" ") && !strings.HasSuffix(strings.TrimSpace(line), c.CommandPath()) {
				continue // a command that follows, as member add's promote
			}
			calls++
			for _, w := range strings.Fields(line) {
				name, ok := strings.CutPrefix(w, "--")
				if !ok {
					continue
				}
				name, _, _ = strings.Cut(name, "=")
				if c.Flags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil {
					t.Errorf("%s: example names --%s, which it does not have", c.CommandPath(), name)
				}
			}
		}
		if calls == 0 {
			t.Errorf("%s: no example calls it", c.CommandPath())
		}
	}
	walk(newRoot())
}

// version names the commit it was built from, the Go toolchain and the
// catalog's age, in every format.
func TestVersion(t *testing.T) {
	state := t.TempDir()
	r := run(t, state, "version", "-w", "json")
	var v struct {
		Version, Commit, GoVersion, Platform string
		Catalog                              struct{ Updated string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
		t.Fatalf("version -w json: %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if v.Version == "" || !strings.HasPrefix(v.GoVersion, "go1.") || v.Platform == "" || v.Catalog.Updated == "" {
		t.Errorf("version -w json: %+v", v)
	}
	// Built from a git checkout (as CI builds), the commit is HEAD's.
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && v.Commit != strings.TrimSpace(string(head)) {
		t.Errorf("version names commit %q, HEAD is %s", v.Commit, head)
	}
	r = run(t, state, "version")
	for _, want := range []string{"etcdpilot ", "commit", "go1.", "catalog", "release notes compiled in"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, state, "version", "-w", "fields")
	if !strings.Contains(r.stdout, `"goVersion" : "go1.`) || !strings.Contains(r.stdout, `"catalog.updated" : "`) {
		t.Errorf("version -w fields:\n%s", r.stdout)
	}
}

// Completion offers the values flags take.
func TestCompletionValues(t *testing.T) {
	state := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-w", ""}, "table\njson\nsimple\nfields\n"},
		{[]string{"upgrade", "apply", "--runtime", ""}, "sandbox\ncommand\nstatic-pod\n"},
		{[]string{"upgrade", "plan", "--to", ""}, "3.6\n"},
		{[]string{"upgrade", "plan", "--to", "3.6."}, "3.6.17\n"},
		{[]string{"status", "--log-format", ""}, "text\njson\n"},
		{[]string{"defrag", "--leader", ""}, "hand-off\nin-place\n"},
	} {
		r := run(t, state, append([]string{"__complete"}, c.args...)...)
		if !strings.Contains(r.stdout, c.want) {
			t.Errorf("completion of %v lacks %q:\n%s%s", c.args, c.want, r.stdout, r.stderr)
		}
	}
}

// Under --log-format json every line on stderr is a JSON record, the
// final error and warnings included.
func TestLogFormatJSON(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"status", "--endpoints", "127.0.0.1:1", "--dial-timeout", "300ms", "--insecure-skip-tls-verify"},
		{"snapshot", "sav", "/tmp"},
		{"status", "--bogus-flag"},
	} {
		r := run(t, state, append(args, "--log-format", "json")...)
		if r.code == 0 || strings.TrimSpace(r.stderr) == "" {
			t.Fatalf("%v: %d %q", args, r.code, r.stderr)
		}
		var last map[string]any
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			last = nil
			if err := json.Unmarshal([]byte(line), &last); err != nil || last["msg"] == nil || last["level"] == nil {
				t.Errorf("%v: a stderr line is not a log record: %q", args, line)
			}
		}
		if last["level"] != "ERROR" || last["exit"] != float64(r.code) {
			t.Errorf("%v: the last record is not the error with its exit code: %v", args, last)
		}
	}
}

// bench deps times deps check --to beside the same move by hand.
func TestBenchDeps(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs the module proxy")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/watcher\n\ngo 1.22\n\nrequire go.etcd.io/etcd/client/v3 v3.5.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport clientv3 \"go.etcd.io/etcd/client/v3\"\n\nfunc main() { _ = clientv3.Config{} }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, t.TempDir(), "bench", "deps", dir, "--to", "3.6.16", "--runs", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "ratio (etcdpilot / by hand)") || !strings.Contains(r.stdout, "go get go.etcd.io/etcd/client/v3@v3.6.16") {
		t.Errorf("bench deps: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
