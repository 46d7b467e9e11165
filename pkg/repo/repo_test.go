package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// fixture copies testdata/fixture into a temp dir (bumps write).
func fixture(t *testing.T) string { return testTree(t, "testdata/fixture") }

// testTree copies a testdata tree into a temp dir.
func testTree(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", src, err, out)
	}
	return dir
}

func pinKeys(pins []Pin) []string {
	var out []string
	for _, p := range pins {
		out = append(out, fmt.Sprintf("%s:%d %s %s", p.File, p.Line, p.Text, p.Kind))
	}
	sort.Strings(out)
	return out
}

// Every pin in the fixture and nothing else: not the prose in README.md,
// not the other image with the same version, not vendor/, not the binary.
var wantPins = []string{
	".github/workflows/ci.yaml:10 v3.5.21 image",
	".github/workflows/ci.yaml:4 v3.5.21 variable",
	"Dockerfile:1 v3.5.21 variable",
	"Dockerfile:2 v3.5.21 image",
	"Makefile:1 3.5.21 variable",
	"build/dependencies.yaml:3 3.5.21 dependency",
	"charts/etcd/values.yaml:4 v3.5.21 image-tag",
	"cluster/manifests/etcd.yaml:8 3.5.21-0 image",
	"cmd/kubeadm/app/constants/constants.go:16 3.5.21-0 go-map",
	"cmd/kubeadm/app/constants/constants.go:17 3.5.21-0 go-map",
	"cmd/kubeadm/app/constants/constants.go:18 3.5.21-0 go-map",
	"cmd/kubeadm/app/constants/constants.go:5 3.5.21-0 go-const",
	"cmd/kubeadm/app/constants/constants.go:8 3.5.11-0 minimum",
	"go.mod:6 v3.5.21 go.mod",
	"go.mod:7 v3.5.21 go.mod",
	"go.mod:8 v3.5.20 go.mod",
	"hack/install-etcd.sh:2 3.5.21 variable",
	"pkg/model/components/etcd.go:5 3.5.21 go-const",
	"test/e2e/etcd.yaml:3 3.5.21-0 image",
	"test/e2e/etcd.yaml:5 3.5.16-0 image",
}

func TestScanFindsEveryPinAndNothingElse(t *testing.T) {
	r, err := Scan("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	got := pinKeys(r.Pins)
	if strings.Join(got, "\n") != strings.Join(wantPins, "\n") {
		t.Fatalf("pins:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantPins, "\n"))
	}
	if r.Agree || r.Version != "3.5.21" {
		t.Errorf("agree %v, version %s", r.Agree, r.Version)
	}
	var disagree []string
	for _, p := range r.Pins {
		if p.Disagrees {
			disagree = append(disagree, fmt.Sprintf("%s:%d", p.File, p.Line))
		}
	}
	// The stale second pin and the client module behind its siblings.
	if strings.Join(disagree, " ") != "go.mod:8 test/e2e/etcd.yaml:5" {
		t.Errorf("disagreeing pins: %v", disagree)
	}
}

func TestBumpThenCheck(t *testing.T) {
	dir := fixture(t)
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.TreeText(t, dir)

	// A dry run shows the diff and writes nothing.
	// A single-line repository crosses a minor when the line is named.
	r, err := Bump(dir, "3.6.16", BumpOptions{Catalog: cat, DryRun: true, From: []string{"3.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written || len(r.Changes) != 11 {
		t.Fatalf("dry run: written %v, %d files changed", r.Written, len(r.Changes))
	}
	if after := testutil.TreeText(t, dir); after != before {
		t.Fatal("the dry run changed files")
	}
	diff := ""
	for _, c := range r.Changes {
		diff += c.Diff
	}
	for _, want := range []string{"-  image: registry.k8s.io/etcd:3.5.16-0\n+  image: registry.k8s.io/etcd:3.6.16-0", "-\tgo.etcd.io/etcd/client/v3 v3.5.20\n+\tgo.etcd.io/etcd/client/v3 v3.6.16", "+    tag: v3.6.16"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}

	r, err = Bump(dir, "3.6.16", BumpOptions{Catalog: cat, From: []string{"3.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Written || !r.After.Agree {
		t.Fatalf("bump: written %v, agree after %v", r.Written, r.After.Agree)
	}
	if m := Mismatches(r.After, "3.6.16", false); len(m) != 0 {
		t.Errorf("stale after bump: %v", pinKeys(m))
	}
	// Only version text changed; unrelated versions stayed.
	for file, want := range map[string][]string{
		"cluster/manifests/etcd.yaml":            {"image: registry.k8s.io/etcd:3.6.16-0", "image: example.com/metrics-proxy:3.5.21"},
		"charts/etcd/values.yaml":                {"tag: v3.6.16\n", "repository: example.com/etcd-backup-sidecar\n    tag: v3.5.21"},
		"cmd/kubeadm/app/constants/constants.go": {`DefaultEtcdVersion = "3.6.16-0"`, `MinExternalEtcdVersion = "3.5.11-0"`, `PauseVersion = "3.10"`, `33: "3.6.16-0",`},
		"pkg/model/components/etcd.go":           {`DefaultEtcd3Version_1_31 = "3.6.16"`, `DefaultMetricsProxyVersion = "3.5.21"`},
		"Dockerfile":                             {"ARG ETCD_VERSION=v3.6.16\nFROM gcr.io/etcd-development/etcd:v3.6.16 AS etcd"},
		"hack/install-etcd.sh":                   {"ETCD_VERSION=${ETCD_VERSION:-3.6.16}", "v${ETCD_VERSION}"},
		"README.md":                              {"etcd 3.5.21 (prose"},
		"vendor/example.com/lib/etcd.go":         {`"3.4.0"`},
		"go.mod":                                 {"go.etcd.io/raft/v3 v3.6.0", "google.golang.org/grpc v1.71.0"},
	} {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", file, w, b)
			}
		}
	}
	// Check: passes for the new version, lists every pin for another.
	after, _ := Scan(dir)
	if m := Mismatches(after, "3.6.16", false); len(m) != 0 {
		t.Errorf("check 3.6.16: %v", pinKeys(m))
	}
	if m := Mismatches(after, "3.6.15", false); len(m) != 19 {
		t.Errorf("check 3.6.15: %d mismatches", len(m))
	}
	// Bumping again is a no-op.
	r, err = Bump(dir, "3.6.16", BumpOptions{Catalog: cat})
	if err != nil || len(r.Changes) != 0 {
		t.Errorf("second bump: %v, %d changes", err, len(r.Changes))
	}
}

func TestCheckCatchesTheStaleSecondPin(t *testing.T) {
	r, err := Scan("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	got := pinKeys(Mismatches(r, "3.5.21", true))
	if strings.Join(got, "\n") != "test/e2e/etcd.yaml:5 3.5.16-0 image" {
		t.Errorf("mismatches: %v", got)
	}
}

func TestBumpRefuses(t *testing.T) {
	cat, _ := catalog.Default()
	dir := fixture(t)
	before := testutil.TreeText(t, dir)
	for _, tc := range []struct {
		to   string
		o    BumpOptions
		want string
	}{
		{"3.4.23", BumpOptions{Catalog: cat, From: []string{"3.5"}}, "downgrade"},
		{"3.7.3", BumpOptions{Catalog: cat, From: []string{"3.5"}}, "skips a minor"},
		{"3.6.16", BumpOptions{Catalog: cat}, "pins nothing of line 3.6"},
		{"3.6.16", BumpOptions{Catalog: cat, From: []string{"3.5.99"}}, "--from 3.5.99 matches no pin"},
		{"4.0.0", BumpOptions{Catalog: cat, Force: true}, "another major is refused"},
		{"3.6.99", BumpOptions{Catalog: cat}, "not in the release catalog"},
		{"three", BumpOptions{Catalog: cat}, "--to"},
		{"3.6.16", BumpOptions{Catalog: cat, ImageSuffix: "zero"}, "--image-suffix"},
	} {
		_, err := Bump(dir, tc.to, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bump to %s: %v, want %q", tc.to, err, tc.want)
		}
	}
	if testutil.TreeText(t, dir) != before {
		t.Fatal("a refused bump changed files")
	}
	if _, err := Scan(filepath.Join(dir, "Makefile")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("scan of a file: %v", err)
	}
	if os.Geteuid() != 0 {
		os.Chmod(filepath.Join(dir, "Makefile"), 0)
		r, err := Scan(dir)
		if err != nil || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "Makefile") {
			t.Errorf("unreadable file: %v %v", err, r.Errors)
		}
	}
}

func TestDepsCheck(t *testing.T) {
	cat, _ := catalog.Default()
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "go.mod")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	codes := func(r *DepsReport) string {
		var cs []string
		for _, f := range r.Findings {
			cs = append(cs, f.Severity+":"+f.Code)
		}
		sort.Strings(cs)
		return strings.Join(cs, " ")
	}
	ctx := context.Background()

	r, err := CheckDeps(ctx, "testdata/fixture/go.mod", DepsOptions{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(codes(r), "error:not-lockstep") || !r.Failed() {
		t.Errorf("fixture: %s", codes(r))
	}
	if len(r.Updates) != 2 || r.Updates[0].Kind != "patch" || r.Updates[0].Action != "auto" || r.Updates[1].Kind != "minor" || r.Updates[1].Action != "review" {
		t.Errorf("updates: %+v", r.Updates)
	}

	r, _ = CheckDeps(ctx, write("module x\n\ngo 1.22\n\nrequire (\n\tgithub.com/coreos/etcd v3.3.25+incompatible\n\tgithub.com/coreos/bbolt v1.3.3\n\tgoogle.golang.org/grpc v1.29.0\n)\n"), DepsOptions{Catalog: cat})
	if got := codes(r); got != "error:grpc-incompatible warning:legacy-path warning:legacy-path" {
		t.Errorf("legacy: %s", got)
	}

	// Beside the v3 modules, the pre-3.5 path is a conflict.
	r, _ = CheckDeps(ctx, write("module x\n\ngo 1.22\n\nrequire (\n\tgo.etcd.io/etcd v0.5.0-alpha.5.0.20200910180754-dd1b699fc489\n\tgo.etcd.io/etcd/client/v3 v3.5.21\n\tgo.etcd.io/etcd/api/v3 v3.5.21\n)\n"), DepsOptions{Catalog: cat})
	if got := codes(r); !strings.Contains(got, "error:legacy-path") || !r.Failed() {
		t.Errorf("legacy beside v3: %s", got)
	}

	r, _ = CheckDeps(ctx, write("module x\n\ngo 1.22\n\nrequire (\n\tgo.etcd.io/etcd/client/v3 v3.5.4\n\tgo.etcd.io/etcd/api/v3 v3.5.4\n\tgoogle.golang.org/grpc v1.60.0\n\tgo.opentelemetry.io/otel v1.20.0\n\tgoogle.golang.org/genproto/googleapis/api v0.0.0-20240401000000-abcdefabcdef\n)\n"), DepsOptions{Catalog: cat})
	got := codes(r)
	for _, want := range []string{"warning:grpc-untested", "warning:otel-incompatible", "error:genproto-ambiguous", "warning:cve"} {
		if !strings.Contains(got, want) {
			t.Errorf("3.5.4 with new grpc: %s lacks %s", got, want)
		}
	}

	p, _ := ParsePolicy("patch=review,minor=block")
	r, _ = CheckDeps(ctx, write("module x\n\ngo 1.22\n\nrequire go.etcd.io/etcd/client/v3 v3.6.17\n"), DepsOptions{Catalog: cat, Policy: p})
	if r.Failed() || len(r.Updates) != 1 || r.Updates[0].To != "3.7.3" || r.Updates[0].Action != "block" {
		t.Errorf("clean 3.6.17: %s %+v", codes(r), r.Updates)
	}
	// A client-only module is not told of the server's CVEs.
	r, _ = CheckDeps(ctx, write("module x\n\ngo 1.22\n\nrequire go.etcd.io/etcd/client/v3 v3.6.10\n"), DepsOptions{Catalog: cat})
	for _, f := range r.Findings {
		if strings.Contains(f.Message, "CVE-2026-44283") || strings.Contains(f.Message, "CVE-2026-73500") {
			t.Errorf("a server CVE shown to a client-only module: %s", f.Message)
		}
	}

	if _, err := CheckDeps(ctx, write("module x\nrequire (\n"), DepsOptions{}); err == nil || !strings.Contains(err.Error(), "go.mod:") {
		t.Errorf("malformed go.mod: %v", err)
	}
	if _, err := ParsePolicy("patch=yolo"); err == nil {
		t.Error("bad policy accepted")
	}
}

func TestParseGovulncheck(t *testing.T) {
	stream := `{"config":{"protocol_version":"v1.0.0"}}
{"osv":{"id":"GO-2023-1234","summary":"Leak in etcd auth"}}
{"finding":{"osv":"GO-2023-1234","fixed_version":"v3.5.9","trace":[{"module":"go.etcd.io/etcd/server/v3","version":"v3.5.8"}]}}
{"finding":{"osv":"GO-2023-1234","fixed_version":"v3.5.9","trace":[{"module":"go.etcd.io/etcd/server/v3","version":"v3.5.8","function":"Do"}]}}
`
	fs := ParseGovulncheck([]byte(stream))
	if len(fs) != 1 || fs[0].Severity != SevError || !strings.Contains(fs[0].Message, "fixed in v3.5.9") {
		t.Fatalf("%+v", fs)
	}
}

// TestBumpAllOrNothing (issue 27): one of two files cannot be written
// (immutable): nothing is written, the error names the file, and the
// closing line says so instead of "dry run".
func TestBumpAllOrNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chattr +i needs root")
	}
	cat, _ := catalog.Default()
	dir := t.TempDir()
	env := filepath.Join(dir, "versions.env")
	pod := filepath.Join(dir, "pod.yaml")
	os.WriteFile(env, []byte("ETCD_VERSION=3.5.35\n"), 0o640)
	os.WriteFile(pod, []byte("image: registry.k8s.io/etcd:3.5.35-0\n"), 0o644)
	if out, err := exec.Command("chattr", "+i", pod).CombinedOutput(); err != nil {
		t.Skipf("chattr: %v %s", err, out)
	}
	defer exec.Command("chattr", "-i", pod).Run()
	r, err := Bump(dir, "3.5.36", BumpOptions{Catalog: cat})
	if err == nil || !strings.Contains(err.Error(), "nothing was written") || !strings.Contains(err.Error(), "pod.yaml") {
		t.Fatalf("bump with an immutable file: %v", err)
	}
	if r == nil || r.Written || strings.Contains(r.Closing(), "dry run") || !strings.Contains(r.Closing(), "nothing was written") {
		t.Fatalf("closing line: %q", r.Closing())
	}
	if b, _ := os.ReadFile(env); string(b) != "ETCD_VERSION=3.5.35\n" {
		t.Fatalf("the writable file was rewritten: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*etcdpilot*")); len(left) > 0 {
		t.Fatalf("staged files left: %v", left)
	}
	exec.Command("chattr", "-i", pod).Run()
	if _, err := Bump(dir, "3.5.36", BumpOptions{Catalog: cat}); err != nil {
		t.Fatalf("once writable: %v", err)
	}
	if b, _ := os.ReadFile(env); string(b) != "ETCD_VERSION=3.5.36\n" {
		t.Fatalf("after the bump: %q", b)
	}
	if fi, _ := os.Stat(env); fi.Mode().Perm() != 0o640 {
		t.Fatalf("the mode changed: %v", fi.Mode())
	}
}

// TestBumpOneAtATime: while another process holds the tree (flock(1) on
// its directory, as a running bump does), a bump refuses and writes
// nothing; a dry run still reads.
func TestBumpOneAtATime(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock(1)")
	}
	cat, _ := catalog.Default()
	dir := t.TempDir()
	env := filepath.Join(dir, "versions.env")
	os.WriteFile(env, []byte("ETCD_VERSION=3.5.35\n"), 0o644)
	holder := exec.Command("flock", "-x", "-o", dir, "sleep", "60") // -o: the lock is flock(1)'s alone, not sleep's
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, holder.Start())
	release := func() { syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); holder.Wait() } // flock(1) and its sleep
	defer release()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := fsutil.TryLockDir(dir)
		if errors.Is(err, fsutil.ErrLocked) {
			break // flock(1) holds it
		}
		testutil.Must(t, err)
		l.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("flock(1) did not take the directory")
		}
	}
	if _, err := Bump(dir, "3.5.36", BumpOptions{Catalog: cat}); err == nil || !strings.Contains(err.Error(), "another repo bump") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("a bump beside a held tree: %v", err)
	}
	if b, _ := os.ReadFile(env); string(b) != "ETCD_VERSION=3.5.35\n" {
		t.Fatalf("written while held: %q", b)
	}
	if _, err := Bump(dir, "3.5.36", BumpOptions{Catalog: cat, DryRun: true}); err != nil {
		t.Fatalf("a dry run beside a held tree: %v", err)
	}
	release()
	if _, err := Bump(dir, "3.5.36", BumpOptions{Catalog: cat}); err != nil {
		t.Fatalf("once released: %v", err)
	}
}
