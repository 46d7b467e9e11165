package snapshot_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/conn"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// write puts n keys under prefix (each value size bytes) and deletes every
// seventh, so that the history has tombstones.
func write(t *testing.T, c conn.Config, prefix string, n, size int) {
	t.Helper()
	cli, err := c.Client()
	testutil.Must(t, err, "client")
	defer cli.Close()
	val := strings.Repeat("v", size)
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cli.Put(ctx, fmt.Sprintf("%s%04d", prefix, i), fmt.Sprintf("%d-%s", i, val))
		if err == nil && i%7 == 3 {
			_, err = cli.Delete(ctx, fmt.Sprintf("%s%04d", prefix, i))
		}
		cancel()
		testutil.Must(t, err, "write")
	}
}

// dump reads every key and the revision.
func dump(t *testing.T, c conn.Config) (map[string]string, int64) {
	t.Helper()
	cli, err := c.Client()
	testutil.Must(t, err, "client")
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "\x00", clientv3.WithFromKey())
	testutil.Must(t, err, "get")
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, resp.Header.Revision
}

func TestRoundTripAndDrill(t *testing.T) {
	for _, v := range []string{testutil.V35, testutil.V36} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 3*time.Minute)
			sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{v}})
			st, _ := sb.State()
			write(t, st.Conn(), "/before/", 300, 100)
			want, wantRev := dump(t, st.Conn())
			dir := t.TempDir()
			sc, file, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), dir, snapshot.SaveOptions{CompareMember: true})
			testutil.Must(t, err, "save")
			if sc.Revision != wantRev || sc.KeyCount != int64(len(want)) || sc.HashKV != sc.HashKVMember || sc.EtcdVersion != v {
				t.Fatalf("sidecar %+v; want revision %d and %d keys", sc, wantRev, len(want))
			}
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Fatalf("snapshot mode %v", fi.Mode())
			}
			// Checked in place as verify checks (read back, bbolt's
			// check) before it is published: marked verified, and
			// Verify agrees.
			vsc, vfile, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{Verify: true})
			testutil.Must(t, err, "save --verify")
			if vsc.VerifiedAt == nil || sc.VerifiedAt != nil || vsc.HashKV != sc.HashKV {
				t.Fatalf("verified in place: %v, without: %v; HashKV %d and %d", vsc.VerifiedAt, sc.VerifiedAt, vsc.HashKV, sc.HashKV)
			}
			if r, err := snapshot.Verify(ctx, vfile, snapshot.VerifyOptions{}); err != nil || !r.OK() {
				t.Fatalf("verify of the snapshot checked in place: %+v %v", r, err)
			}
			// Verify with a restore drill on the snapshot's own version.
			r, err := snapshot.Verify(ctx, file, snapshot.VerifyOptions{Drill: true, Binaries: testutil.Binaries(t, v)})
			testutil.Must(t, err, "verify")
			if !r.OK() || r.Drill == nil || len(r.Compared) != 1 {
				t.Fatalf("verify: %+v", r)
			}
			after, _ := snapshot.ReadSidecar(file)
			if after.DrilledAt == nil {
				t.Fatal("the sidecar does not record the drill")
			}
			// Change the cluster, then restore all three members.
			write(t, st.Conn(), "/after/", 50, 10)
			cmp, err := snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{})
			testutil.Must(t, err, "restore")
			if len(cmp) != 3 {
				t.Fatalf("compared %d members", len(cmp))
			}
			got, gotRev := dump(t, st.Conn())
			if gotRev != wantRev || len(got) != len(want) {
				t.Fatalf("after restore: revision %d (want %d), %d keys (want %d)", gotRev, wantRev, len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("key %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// corruptions are files that must be refused before anything is written.
func corruptions(t *testing.T, good string) map[string]string {
	dir := t.TempDir()
	data, err := os.ReadFile(good)
	testutil.Must(t, err, "read")
	out := map[string]string{}
	add := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		out[name] = p
	}
	add("truncated", data[:len(data)-4096])
	flipped := append([]byte{}, data...)
	flipped[len(flipped)/2] ^= 0x40
	add("bit-flipped", flipped)
	noise := make([]byte, 64*1024)
	rand.New(rand.NewSource(7)).Read(noise)
	sum := sha256.Sum256(noise)
	add("not-bolt", append(noise, sum[:]...)) // right trailer, wrong content
	// A real bbolt file, but not etcd's.
	plain := filepath.Join(dir, "plain-bolt")
	db, err := bolt.Open(plain, 0o600, nil)
	testutil.Must(t, err, "bolt")
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	pb, _ := os.ReadFile(plain)
	psum := sha256.Sum256(pb)
	add("bolt-not-etcd", append(pb, psum[:]...))
	add("empty", nil)
	// A corrupt page under a valid trailer (what a member with a rotten
	// disk would stream): bbolt must report it, not crash the process.
	for pg := 2; (pg+1)*4096 <= len(data)-32; pg++ {
		bad := append([]byte{}, data[:len(data)-32]...)
		for i := pg * 4096; i < (pg+1)*4096; i++ {
			bad[i] = 0xA5
		}
		bsum := sha256.Sum256(bad)
		add(fmt.Sprintf("rotten-page-%d", pg), append(bad, bsum[:]...))
	}
	return out
}

func TestCorruptSnapshotsAreRefused(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 2*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}, Members: 1})
	st, _ := sb.State()
	write(t, st.Conn(), "/k/", 100, 50)
	_, good, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save")
	for name, file := range corruptions(t, good) {
		_, err := snapshot.Verify(ctx, file, snapshot.VerifyOptions{})
		if strings.HasPrefix(name, "rotten-page") && err == nil {
			// A page no bucket reaches (free) may rot without harm.
			continue
		}
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("%s: verify: want ErrCorrupt, got %v", name, err)
		}
		target := filepath.Join(t.TempDir(), "data")
		_, err = snapshot.RestoreDataDirs(file, []snapshot.Target{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: target}}, snapshot.RestoreOptions{})
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("%s: restore: want ErrCorrupt, got %v", name, err)
		}
		if _, statErr := os.Stat(target); !os.IsNotExist(statErr) {
			t.Errorf("%s: restore wrote %s", name, target)
		}
	}
	// The good one restores, and a second restore into the same directory is
	// refused unless forced, which moves the first aside.
	target := filepath.Join(t.TempDir(), "data")
	tg := []snapshot.Target{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: target}}
	_, err = snapshot.RestoreDataDirs(good, tg, snapshot.RestoreOptions{})
	testutil.Must(t, err, "restore")
	if _, err := snapshot.RestoreDataDirs(good, tg, snapshot.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second restore: %v", err)
	}
	_, err = snapshot.RestoreDataDirs(good, tg, snapshot.RestoreOptions{Force: true})
	testutil.Must(t, err, "forced restore")
	aside, _ := filepath.Glob(target + ".etcdpilot-aside-*")
	if len(aside) != 1 {
		t.Fatalf("the old data directory was not moved aside: %v", aside)
	}
	// A data directory in use by a running member is refused even with --force.
	m := st.Members[0]
	_, err = snapshot.RestoreDataDirs(good, []snapshot.Target{{Name: m.Name, PeerURLs: []string{m.PeerURL}, DataDir: m.DataDir}}, snapshot.RestoreOptions{Force: true})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore into a running member's data dir: %v", err)
	}
	// Missing file.
	if _, err := snapshot.Verify(ctx, filepath.Join(t.TempDir(), "nope.db"), snapshot.VerifyOptions{}); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	// A sidecar that disagrees is a mismatch, not a pass.
	sc, _ := snapshot.ReadSidecar(good)
	sc.KeyCount++
	testutil.Must(t, snapshot.WriteSidecar(good, sc), "sidecar")
	r, err := snapshot.Verify(ctx, good, snapshot.VerifyOptions{})
	testutil.Must(t, err, "verify")
	if r.OK() || !strings.Contains(strings.Join(r.Problems, ";"), "key count") {
		t.Fatalf("sidecar mismatch not reported: %+v", r.Problems)
	}
}

func TestNewerSnapshotRefused(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 2*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}, Members: 1})
	st, _ := sb.State()
	_, file, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save")
	target := filepath.Join(t.TempDir(), "data")
	_, err = snapshot.RestoreDataDirs(file, []snapshot.Target{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: target}}, snapshot.RestoreOptions{EtcdVersion: testutil.V35})
	if err == nil || !strings.Contains(err.Error(), "cannot run on newer data") {
		t.Fatalf("want refusal, got %v", err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("refused restore wrote the target")
	}
}

// A member killed while its snapshot streams: a clear error, and nothing
// under the final name (no temporary file left either).
func TestMemberKilledMidSave(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 3*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}})
	st, _ := sb.State()
	write(t, st.Conn(), "/big/", 40, 1<<20) // about 40 MiB
	dir := t.TempDir()
	final := filepath.Join(dir, "s.db")
	var once sync.Once
	var victim string
	_, _, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), final, snapshot.SaveOptions{From: "m2", OnBytes: func(n int64) {
		once.Do(func() {
			victim = "m2"
			sb.Kill(context.Background(), "m2")
		})
	}})
	if victim == "" {
		t.Fatal("the save never streamed")
	}
	if err == nil || !strings.Contains(err.Error(), "nothing was saved") {
		t.Fatalf("want a broken-stream error, got %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
}

// Disk full: a 1 MiB tmpfs. The save is refused before it streams, with
// the space it needs; a restore fails cleanly.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s); the disk-full case needs root", err, out)
	}
	defer exec.Command("umount", dir).Run()
	ctx := testutil.Context(t, 2*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V35}, Members: 1})
	st, _ := sb.State()
	write(t, st.Conn(), "/big/", 3, 1<<20)
	// Refused before anything streams, with the space needed.
	var sent int64
	_, _, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), filepath.Join(dir, "s.db"), snapshot.SaveOptions{OnBytes: func(n int64) { sent = n }})
	if err == nil || !strings.Contains(err.Error(), "free in "+dir) || !strings.Contains(err.Error(), "nothing was written") || sent != 0 {
		t.Fatalf("want the space needed, before the stream; got %v (%d bytes streamed)", err, sent)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("files left on the full disk: %v", entries)
	}
	_, good, err := snapshot.Save(ctx, testutil.Session(t, st.Conn()), t.TempDir(), snapshot.SaveOptions{})
	testutil.Must(t, err, "save")
	_, err = snapshot.RestoreDataDirs(good, []snapshot.Target{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, DataDir: filepath.Join(dir, "data")}}, snapshot.RestoreOptions{})
	if err == nil {
		t.Fatal("restore onto a full disk succeeded")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("restore left files on the full disk: %v", entries)
	}
}

// Two saves to one file name at once: one wins, the other fails, and what
// is on disk is the winner's, with the winner's sidecar. Nothing is
// reported saved that is not there.
func TestTwoSavesOneName(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 2*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Versions: []string{testutil.V36}})
	st, _ := sb.State()
	write(t, st.Conn(), "/two/", 20, 1<<20)
	final := filepath.Join(t.TempDir(), "s.db")
	// Start both past the name check, so that they race at the publish.
	var ready sync.WaitGroup
	ready.Add(2)
	type result struct {
		sc  *snapshot.Sidecar
		err error
	}
	res := make([]result, 2)
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			res[i].sc, _, res[i].err = snapshot.Save(ctx, testutil.Session(t, st.Conn()), final, snapshot.SaveOptions{OnBytes: func(int64) {
				once.Do(func() { ready.Done(); ready.Wait() })
			}})
		}()
	}
	wg.Wait()
	var won []result
	for _, r := range res {
		if r.err == nil {
			won = append(won, r)
		} else if !strings.Contains(r.err.Error(), "already exists") || !strings.Contains(r.err.Error(), "nothing was saved") {
			t.Errorf("the losing save: %v", r.err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d saves succeeded: %+v", len(won), res)
	}
	info, err := snapshot.Check(final)
	testutil.Must(t, err)
	sc, err := snapshot.ReadSidecar(final)
	testutil.Must(t, err)
	if info.SHA256 != won[0].sc.SHA256 || sc.SHA256 != won[0].sc.SHA256 {
		t.Errorf("on disk %s, sidecar %s, the winner saved %s", info.SHA256, sc.SHA256, won[0].sc.SHA256)
	}
	entries, _ := os.ReadDir(filepath.Dir(final))
	if len(entries) != 2 {
		t.Errorf("files: %v (want the snapshot and its sidecar)", entries)
	}
}
