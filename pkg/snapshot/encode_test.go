package snapshot_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
	"github.com/etcdpilot/etcdpilot/pkg/snapshot"
)

// TestCompressEncrypt: a save with zstd and an age recipient stores
// NAME.db.zst.age (no etcd data readable in it, smaller than the raw
// snapshot), listed like any snapshot; verify and restore undo both with
// the identity, and refuse without it, naming the flag. A recipient that
// is not one is refused before anything is saved.
func TestCompressEncrypt(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 3*time.Minute)
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}})
	st, _ := sb.State()
	write(t, st.Conn(), "/plain/", 500, 1000)
	want, wantRev := dump(t, st.Conn())
	s := testutil.Session(t, st.Conn())
	id, err := age.GenerateX25519Identity()
	testutil.Must(t, err)
	idFile := filepath.Join(t.TempDir(), "key.txt")
	testutil.Must(t, os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600))
	dir := t.TempDir()

	if _, _, err := snapshot.Save(ctx, s, dir+"/", snapshot.SaveOptions{Encoding: snapshot.Encoding{Recipients: []string{"age1nope"}}}); err == nil || !strings.Contains(err.Error(), "not an age recipient") {
		t.Fatalf("bad recipient: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a refused save wrote %v", left)
	}

	sc, path, err := snapshot.Save(ctx, s, dir+"/", snapshot.SaveOptions{Encoding: snapshot.Encoding{Compress: true, Recipients: []string{id.Recipient().String()}}})
	testutil.Must(t, err)
	if !strings.HasSuffix(path, ".db.zst.age") || strings.Join(sc.Encoding, ",") != "zstd,age" {
		t.Fatalf("saved %s, encoding %v", path, sc.Encoding)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if bytes.Contains(b, []byte("/plain/0001")) || fi.Size() >= sc.Size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored file: %d bytes (raw %d), mode %v, plaintext inside: %v", fi.Size(), sc.Size, fi.Mode(), bytes.Contains(b, []byte("/plain/0001")))
	}
	store, _ := snapshot.Stores{}.Open(ctx, dir, false)
	if list, _ := store.List(ctx); len(list) != 1 || !list[0].SidecarOK {
		t.Fatalf("listing %+v", list)
	}

	if _, err := snapshot.Verify(ctx, path, snapshot.VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "--age-identity") {
		t.Fatalf("verify without the key: %v", err)
	}
	keyed := snapshot.Stores{AgeIdentity: idFile}
	r, err := snapshot.Verify(ctx, path, snapshot.VerifyOptions{Stores: keyed})
	testutil.Must(t, err)
	if !r.OK() || r.Info.Revision != wantRev {
		t.Fatalf("verify: %+v", r)
	}
	file, done, err := keyed.Local(ctx, path)
	testutil.Must(t, err)
	_, err = snapshot.RestoreSandbox(ctx, sb, file, snapshot.RestoreOptions{})
	done()
	testutil.Must(t, err)
	got, gotRev := dump(t, st.Conn())
	if gotRev != wantRev || len(got) != len(want) {
		t.Fatalf("restored: revision %d, %d keys; want %d, %d", gotRev, len(got), wantRev, len(want))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.raw*")); len(left) != 0 {
		t.Errorf("decoded copies left: %v", left)
	}
}
