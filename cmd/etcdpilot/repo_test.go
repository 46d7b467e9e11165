package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// copyTestdata copies one of pkg/repo's testdata trees (bumps write).
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", "../../pkg/repo/testdata/"+name+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", name, err, out)
	}
	return dir
}

// TestRepoCommands: scan, bump and check on trees laid out as kops and
// Kubernetes are, with their exit codes.
func TestRepoCommands(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	kops := copyTestdata(t, "kops")
	r := run(t, state, "repo", "scan", kops)
	if r.code != 0 || !strings.Contains(r.stdout, "line 3.5: 2 pins, 3.5.31 ×2; agree") || !strings.Contains(r.stdout, "carries 3 etcd lines") {
		t.Fatalf("scan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "repo", "bump", "--from", "3.6.12", "--to", "3.6.16", "--dry-run", "--report", "md", kops)
	for _, want := range []string{
		"| `pkg/model/components/etcd.go` | 10 | `3.6.12` | `3.6.16` | go-const |",
		"Line 3.5 is left as it is.", "`docs/releases/1.36-NOTES.md` | 5 | `v3.6.12` | history",
		"#### 3.6.12 → 3.6.16", "run `hack/update-expected.sh`", "nothing was written",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q: %d\n%s%s", want, r.code, r.stdout, r.stderr)
		}
	}
	r = run(t, state, "repo", "bump", "--from", "3.6.12", "--to", "3.6.16", kops)
	if r.code != 0 || !strings.Contains(r.stdout, "rewrote 4 pins in 4 files; a new scan finds 4 pins at 3.6.16") || !strings.Contains(r.stdout, "line 3.7 left alone") {
		t.Fatalf("bump: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "repo", "check", "--expect", "3.5.31", "--expect", "v3.6.16,3.7.0-0", kops); r.code != 0 || !strings.Contains(r.stdout, "not compared: 2 test and docs pins") {
		t.Errorf("check after the bump: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "repo", "check", "--expect", "3.6.12", kops); r.code != 1 || !strings.Contains(r.stdout, "pkg/model/components/etcd.go:10: go-const pins 3.6.16, expected 3.6.12") {
		t.Errorf("check of the old version: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A pin left behind (a bundled list that already holds line 3.6)
	// exits 1 and says why.
	k8s := copyTestdata(t, "k8s-1.34")
	r = run(t, state, "repo", "bump", "--from", "3.5", "--to", "3.6.16", k8s)
	if r.code != 1 || !strings.Contains(r.stdout, "LEFT: cluster/images/etcd/Makefile:8 3.5.21: the list also holds line 3.6") {
		t.Errorf("bump with a pin left: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// etcd's own release registry passes; a staging image outside tests
	// fails check, naming the promoted one.
	if r := run(t, state, "repo", "check", "--expect", "3.5.9", "../../pkg/repo/testdata/kubeadm-1.28"); r.code != 0 {
		t.Errorf("gcr.io/etcd-development is etcd's release registry: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	kubeadm := copyTestdata(t, "kubeadm-1.28")
	dep := filepath.Join(kubeadm, "staging/src/k8s.io/sample-apiserver/artifacts/example/deployment.yaml")
	b, _ := os.ReadFile(dep)
	os.WriteFile(dep, []byte(strings.Replace(string(b), "gcr.io/etcd-development/etcd", "gcr.io/k8s-staging-etcd/etcd", 1)), 0o644)
	r = run(t, state, "repo", "check", "--expect", "3.5.9", kubeadm)
	if r.code != 1 || !strings.Contains(r.stdout, "use the promoted registry.k8s.io/etcd:v3.5.9") {
		t.Errorf("staging: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Bad input: a clear error, exit 2, nothing written.
	guide := copyTestdata(t, "guide")
	os.WriteFile(filepath.Join(guide, "etcd.yaml"), []byte("image: registry.k8s.io/etcd:3.6.8-0@sha256:"+strings.Repeat("1", 64)+"\n"), 0o644)
	before := testutil.TreeText(t, guide)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "3.6.9", "--from", "3.6.77"}, "--from 3.6.77 matches no pin"},
		{[]string{"--to", "4.0.1"}, "another major is refused"},
		{[]string{"--to", "3.6.9", "--digest", "3.6.9-0=sha256:1234"}, "64 lower-case hex"},
		{[]string{"--to", "3.6.9", "--digests", filepath.Join(guide, "nope.yaml")}, "--digests"},
		{[]string{"--to", "3.6.9"}, "etcd.yaml:1 registry.k8s.io/etcd:3.6.8-0@sha256:111111111111... needs the digest of registry.k8s.io/etcd:3.6.9-0"},
		{[]string{"--to", "3.6.9", "--report", "html"}, "the report format is md"},
		{[]string{"--to", "3.6.9", "--from", "3.6"}, "--digest"},
	} {
		r := run(t, state, append([]string{"repo", "bump", guide}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %d, want %q\n%s%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
	}
	if testutil.TreeText(t, guide) != before {
		t.Fatal("a refused bump changed files")
	}
	r = run(t, state, "repo", "bump", guide, "--to", "3.6.9", "--digest", "registry.k8s.io/etcd:3.6.9-0=sha256:"+strings.Repeat("2", 64))
	if r.code != 0 || !strings.Contains(r.stdout, "+image: registry.k8s.io/etcd:3.6.9-0@sha256:2222") {
		t.Errorf("bump with a digest: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, state, "repo", "check", "--expect", "3.6.9", "--expect", "3.6.10", guide); r.code != 2 || !strings.Contains(r.stderr, "both on line 3.6") {
		t.Errorf("two expects on one line: %d %s", r.code, r.stderr)
	}
}

// TestRepoCheckFindsNothing (issue 27): the only pin sits in a file over
// 4 MiB: scan names the file it skipped, and check fails saying it found
// nothing of the expected line, instead of passing with 0 pins.
func TestRepoCheckFindsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := "ETCD_VERSION=3.5.35\n" + strings.Repeat("# filler line of a big generated file\n", 140000)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "generated.env"), []byte(big), 0o644))
	r := run(t, t.TempDir(), "repo", "scan", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "skipped: generated.env") {
		t.Fatalf("scan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, t.TempDir(), "repo", "check", dir, "--expect", "3.5.36")
	if r.code != 1 || !strings.Contains(r.stderr, "no pin of line 3.5 found") || !strings.Contains(r.stderr, "generated.env") {
		t.Fatalf("check: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
