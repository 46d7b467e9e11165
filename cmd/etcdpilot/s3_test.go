package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/bench"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestSnapshotS3CLI: s3:// wherever a snapshot path goes, through a real
// versitygw with the AWS environment: save, ls, verify, a rehearsal seeded
// from the object, and the pre-upgrade snapshot of upgrade apply
// --snapshot-dir. Wrong credentials
// are named as such, the secret never printed, and nothing is deleted; a
// region mismatch names the region the server expects.
func TestSnapshotS3CLI(t *testing.T) {
	t.Parallel()
	endpoint, _ := testutil.S3(t, "backups")
	state := cliSandbox(t, "s3", []string{testutil.V35})
	testutil.Binaries(t, testutil.V36)
	env := testutil.S3Environ()
	s3 := []string{"--s3-endpoint", endpoint, "--s3-path-style"}

	r := runEnv(t, state, env, append([]string{"snapshot", "save", "s3://backups/etcd/", "--sandbox", "s3"}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "s3://backups/etcd/snapshot-") {
		t.Fatalf("save: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	name := strings.TrimRight(strings.Fields(r.stdout[strings.Index(r.stdout, "s3://"):])[0], ":,")
	if r := runEnv(t, state, env, append([]string{"snapshot", "verify", name}, s3...)...); r.code != 0 {
		t.Errorf("verify %s: %d\n%s%s", name, r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, env, append([]string{"upgrade", "rehearse", "--sandbox", "s3", "--to", testutil.V36, "--snapshot", name}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "made from a snapshot") {
		t.Errorf("rehearsal seeded from s3: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, env, append([]string{"upgrade", "apply", "--sandbox", "s3", "--to", testutil.V36, "--probe=false", "--snapshot-dir", "s3://backups/pre"}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "s3://backups/pre/snapshot-") {
		t.Fatalf("upgrade with its snapshot in s3: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, env, append([]string{"snapshot", "ls", "s3://backups/etcd/"}, s3...)...)
	if r.code != 0 || strings.Count(r.stdout, "snapshot-") != 1 {
		t.Errorf("ls: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	wrong := append(env, "AWS_SECRET_ACCESS_KEY=not-the-secret")
	r = runEnv(t, state, wrong, append([]string{"snapshot", "prune", "s3://backups/etcd/", "--keep-last", "1"}, s3...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "refused the credentials") || !strings.Contains(r.stderr, "bucket backups at "+endpoint) || strings.Contains(r.stderr+r.stdout, "not-the-secret") {
		t.Errorf("wrong credentials: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runEnv(t, state, append(env, "AWS_REGION=eu-west-1"), append([]string{"snapshot", "ls", "s3://backups/etcd/"}, s3...)...)
	if r.code != 2 || !strings.Contains(r.stderr, `expecting "us-east-1"`) || !strings.Contains(r.stderr, "AWS_REGION") {
		t.Errorf("region mismatch: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(t, state, env, append([]string{"snapshot", "ls", "s3://backups/etcd/"}, s3...)...); strings.Count(r.stdout, "snapshot-") != 1 {
		t.Errorf("after the refused prune: %s", r.stdout)
	}

	// The quorum lost; the cluster recovered from the object.
	for _, m := range []string{"m2", "m3"} {
		if r := run(t, state, "sandbox", "proc", "kill", m, "--name", "s3"); r.code != 0 {
			t.Fatalf("kill: %s", r.stderr)
		}
	}
	r = runEnv(t, state, env, append([]string{"recover", "apply", "--sandbox", "s3", "--snapshot", name, "--force"}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "fetched and checked into") {
		t.Fatalf("recover from s3: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("recover from s3:\n%s", r.stdout)
	if r := run(t, state, "status", "--sandbox", "s3"); r.code != 0 {
		t.Errorf("status after the recovery: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The client-CPU benchmark runs end to end and leaves no object behind.
	r = runEnv(t, state, env, append([]string{"bench", "snapshot", "--s3", "s3://backups/bench/", "--size-mib", "8", "--runs", "1", "--version", testutil.V35}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "ratio save / (etcdctl + etcdutl status + upload)") {
		t.Errorf("bench snapshot --s3: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(t, state, env, append([]string{"snapshot", "ls", "s3://backups/bench/"}, s3...)...); strings.Contains(r.stdout, ".db") {
		t.Errorf("the benchmark left objects: %s", r.stdout)
	}
}

// TestSnapshotEncryptCLI: --compress zstd --encrypt RECIPIENT on save,
// --age-identity on verify; without it, verify says which flag it needs;
// an unknown compression is refused.
func TestSnapshotEncryptCLI(t *testing.T) {
	t.Parallel()
	state := cliSandbox(t, "enc", []string{testutil.V36})
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	testutil.Must(t, err)
	key := filepath.Join(dir, "key.txt")
	testutil.Must(t, os.WriteFile(key, []byte(id.String()+"\n"), 0o600))
	if r := run(t, state, "snapshot", "save", dir+"/", "--sandbox", "enc", "--compress", "gzip"); r.code != 2 || !strings.Contains(r.stderr, "zstd is the one") {
		t.Errorf("--compress gzip: %d %s", r.code, r.stderr)
	}
	r := run(t, state, "snapshot", "save", dir+"/", "--sandbox", "enc", "--compress", "zstd", "--encrypt", id.Recipient().String())
	files, _ := filepath.Glob(filepath.Join(dir, "*.db.zst.age"))
	if r.code != 0 || len(files) != 1 {
		t.Fatalf("save: %d %v\n%s%s", r.code, files, r.stdout, r.stderr)
	}
	if r := run(t, state, "snapshot", "verify", files[0]); r.code != 2 || !strings.Contains(r.stderr, "--age-identity") {
		t.Errorf("verify without the key: %d %s", r.code, r.stderr)
	}
	if r := run(t, state, "snapshot", "verify", files[0], "--age-identity", key); r.code != 0 {
		t.Errorf("verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestSnapshotS3TwoSavesOneName (issue 27): two saves to one S3 name at
// once, both past the name check before either completes: exactly one
// succeeds, the other says nothing was saved, and the object is the
// winner's (its SHA-256 is what verify reads back).
func TestSnapshotS3TwoSavesOneName(t *testing.T) {
	t.Parallel()
	endpoint, _ := testutil.S3(t, "race")
	state := cliSandbox(t, "race", []string{testutil.V36})
	env := testutil.S3Environ()
	s3 := []string{"--s3-endpoint", endpoint, "--s3-path-style"}
	sb, err := sandbox.Open(state, "race", nil)
	testutil.Must(t, err)
	st, _ := sb.State()
	testutil.Must(t, bench.Load(context.Background(), st.Conn(), bench.LoadOptions{Keys: 200, ValueSize: 100 << 10, Prefix: "/race/"}, nil))

	target := "s3://race/etcd/s.db"
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = runEnv(t, state, env, append([]string{"snapshot", "save", target, "--sandbox", "race", "-w", "json"}, s3...)...)
		}()
	}
	wg.Wait()
	var winner string
	for _, r := range res {
		switch {
		case r.code == 0:
			if winner != "" {
				t.Fatalf("both saves succeeded:\n%s\n%s", res[0].stdout, res[1].stdout)
			}
			var out struct{ Sidecar struct{ SHA256 string } }
			testutil.Must(t, json.Unmarshal([]byte(r.stdout), &out))
			winner = out.Sidecar.SHA256
		case r.code != 2 || !strings.Contains(r.stderr, "nothing was saved"):
			t.Errorf("the losing save: %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	if winner == "" {
		t.Fatalf("no save succeeded:\n%s\n%s", res[0].stderr, res[1].stderr)
	}
	r := runEnv(t, state, env, append([]string{"snapshot", "verify", target, "-w", "json"}, s3...)...)
	if r.code != 0 || !strings.Contains(r.stdout, winner) {
		t.Fatalf("the object is not the winner's (%s): %d\n%s%s", winner, r.code, r.stdout, r.stderr)
	}
}

// TestS3Messages (issue 27): what goes wrong with S3 is said as what to
// do: an unknown access key, no credentials at all (no EC2 instance-role
// text), a key with a ".." or empty segment (refused before any request).
func TestS3Messages(t *testing.T) {
	t.Parallel()
	endpoint, _ := testutil.S3(t, "msgs")
	state := t.TempDir()
	s3 := []string{"--s3-endpoint", endpoint, "--s3-path-style"}
	env := testutil.S3Environ()
	for _, tc := range []struct {
		env  []string
		loc  string
		want string
	}{
		{append(append([]string{}, env...), "AWS_ACCESS_KEY_ID=nobody"), "s3://msgs/etcd/", "does not know the access key"},
		{append(append([]string{}, env...), "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="), "s3://msgs/etcd/", "no AWS credentials for bucket msgs"},
		{env, "s3://msgs/etcd/../other/", `".." segment`},
		{env, "s3://msgs/etcd//x/", `empty, "." or ".." segment`},
	} {
		r := runEnv(t, state, tc.env, append([]string{"snapshot", "ls", tc.loc}, s3...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "IMDS") {
			t.Errorf("%s %v: %d %s", tc.loc, tc.env[len(tc.env)-1], r.code, r.stderr)
		}
	}
}
