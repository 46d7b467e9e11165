package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.35-0
    command:
    - etcd
    - --name=cp-1
    - --experimental-initial-corrupt-check=true
`

func TestUpgradePlanOffline(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	dir := t.TempDir()
	mf := filepath.Join(dir, "etcd.yaml")
	os.WriteFile(mf, []byte(manifest), 0o644)

	r := run(t, state, "upgrade", "plan", "--from", "3.4.23", "--to", "3.6")
	if r.code != 0 || !strings.Contains(r.stdout, "3.4.45") || !strings.Contains(r.stdout, "[eol]") {
		t.Fatalf("3.4.23 -> 3.6: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "upgrade", "plan", "--from", "3.5.35", "--to", "3.7.3", "--member-config", mf, "--kubernetes", "1.36")
	if r.code != 1 || !strings.Contains(r.stdout, "[flag-removed]") || !strings.Contains(r.stdout, mf+":12") || !strings.Contains(r.stdout, "--feature-gates=InitialCorruptCheck") || !strings.Contains(r.stdout, "[kubernetes]") {
		t.Fatalf("3.5.35 -> 3.7.3 with an experimental flag: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "upgrade", "plan", "--from", "3.5.20", "--to", "3.6.16", "-w", "json")
	var p struct {
		Direction string `json:"direction"`
		Path      []struct {
			From, To, Kind string
		} `json:"path"`
		Blockers []struct{ Code string } `json:"blockers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != 0 || len(p.Path) != 2 || p.Path[0].To != "3.5.36" || p.Direction != "upgrade" {
		t.Fatalf("json: %v %d %s", err, r.code, r.stdout)
	}
	// A lower target gets the downgrade answer, never "nothing to do".
	r = run(t, state, "upgrade", "plan", "--from", "3.5.35", "--to", "3.4.45")
	if r.code != 1 || !strings.Contains(r.stdout, "Downgrade: NOT possible") || !strings.Contains(r.stdout, "snapshot restore") {
		t.Fatalf("downgrade: %d\n%s", r.code, r.stdout)
	}
	r = run(t, state, "upgrade", "plan", "--from", "3.6.16", "--to", "3.5")
	if r.code != 0 || !strings.Contains(r.stdout, "etcdpilot downgrade apply --to 3.5.36: a verified snapshot; downgrade validate and enable 3.5") {
		t.Fatalf("downgrade API: %d\n%s", r.code, r.stdout)
	}
}

func TestUpgradePlanBadInput(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	dir := t.TempDir()
	badCat := filepath.Join(dir, "catalog.yaml")
	os.WriteFile(badCat, []byte("schema: 1\nupdated: x\nminors:\n  - {minor: \"3.5\", released: 2021-06-15, latest: 3.5.0}\nreleases:\n  - {version: 3.5.0, date: 21-6-15}\n"), 0o644)
	badCfg := filepath.Join(dir, "etcd.service")
	os.WriteFile(badCfg, []byte("[Service]\nExecStart=/usr/bin/etcd --name 'x\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"upgrade", "plan", "--from", "3.5.35", "--to", "3.6.99"}, "3.6.17"},
		{[]string{"upgrade", "plan", "--from", "3.5.35", "--to", "3.9"}, "not a known minor"},
		{[]string{"upgrade", "plan", "--from", "3.5.35", "--to", "3.6", "--catalog", badCat}, badCat + ":6"},
		{[]string{"catalog", "validate", badCat}, badCat + ":6"},
		{[]string{"upgrade", "plan", "--from", "3.5.35", "--to", "3.6", "--member-config", badCfg}, badCfg + ":2"},
		{[]string{"upgrade", "plan", "--from", "x.y", "--to", "3.6"}, "not a version"},
		{[]string{"upgrade", "plan", "--from", "3.5.35"}, `"to" not set`},
	}
	for _, tc := range cases {
		r := run(t, state, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	r := run(t, state, "catalog", "show", "3.5.20")
	if r.code != 0 || !strings.Contains(r.stdout, "zombie-members") || !strings.Contains(r.stdout, "3.5.32") {
		t.Fatalf("catalog show: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// A sandbox member started with an --experimental-* flag: the plan to 3.7
// reads it from the member's own command line and blocks.
func TestUpgradePlanSandboxExperimentalFlag(t *testing.T) {
	t.Parallel()
	testutil.Binaries(t, testutil.V35)
	state := testutil.Root(t)
	t.Cleanup(func() { run(t, state, "sandbox", "down", "--all") })
	r := run(t, state, "sandbox", "up", "--name", "exp", "--etcd-flag=--experimental-initial-corrupt-check=true")
	if r.code != 0 {
		t.Fatalf("sandbox up: %s", r.stderr)
	}
	r = run(t, state, "upgrade", "plan", "--sandbox", "exp", "--to", "3.7.3")
	if r.code != 1 || strings.Count(r.stdout, "[flag-removed]") != 3 || !strings.Contains(r.stdout, "(live)") {
		t.Fatalf("plan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, state, "upgrade", "plan", "--sandbox", "exp", "--to", "3.6.16")
	if r.code != 0 || !strings.Contains(r.stdout, "[flag-deprecated]") {
		t.Fatalf("plan to 3.6: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
