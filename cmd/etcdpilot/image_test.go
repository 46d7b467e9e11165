package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestImage builds the container image as `make image` does (a static
// binary, scripts/image), twice: the same digest both times. containerd
// imports its OCI tar, and the image, run by runc as its default nonroot
// user on a read-only root file system, saves a verified snapshot of a
// TLS cluster into a mounted directory, reading only the CA and a client
// certificate.
func TestImage(t *testing.T) {
	t.Parallel()
	testutil.SkipShort(t)
	dir := t.TempDir()
	archive, d1 := buildImage(t, dir, "image")
	if _, d2 := buildImage(t, dir, "again"); d1 != d2 {
		t.Errorf("the image is not reproducible: %s then %s", d1, d2)
	}

	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}, TLS: true})
	st, _ := sb.State()
	// What the pod would mount: the CA and the client pair, readable by
	// the image's user, and a directory it may write.
	pki := filepath.Join(dir, "pki")
	copyFile(t, st.TLS.CA, filepath.Join(pki, "ca.crt"), 0o444)
	copyFile(t, st.TLS.Client.Cert, filepath.Join(pki, "client.crt"), 0o444)
	copyFile(t, st.TLS.Client.Key, filepath.Join(pki, "client.key"), 0o400)
	testutil.Must(t, os.Chown(filepath.Join(pki, "client.key"), 65532, 65532))
	backups := filepath.Join(dir, "backups")
	testutil.Must(t, os.MkdirAll(backups, 0o700))
	testutil.Must(t, os.Chown(backups, 65532, 65532))

	n := kube.NewContainerd(t)
	if o, err := n.Ctr("images", "import", archive); err != nil || !strings.Contains(o, "etcdpilot:test") {
		t.Fatalf("import: %v\n%s", err, o)
	}
	o, err := n.Ctr("run", "--rm", "--net-host", "--read-only",
		"--mount", "type=bind,src="+pki+",dst=/pki,options=rbind:ro",
		"--mount", "type=bind,src="+backups+",dst=/backups,options=rbind:rw",
		"--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev",
		"docker.io/library/etcdpilot:test", "etcdpilot-image-test",
		"/usr/local/bin/etcdpilot", "snapshot", "save", "/backups/", "--offline",
		"--endpoints", st.Members[0].ClientURL, "--cacert", "/pki/ca.crt", "--cert", "/pki/client.crt", "--key", "/pki/client.key")
	if err != nil {
		t.Fatalf("snapshot save in the image: %v\n%s", err, o)
	}
	snaps, _ := filepath.Glob(filepath.Join(backups, "*.db"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots written by the image: %v\n%s", snaps, o)
	}
	if fi, err := os.Stat(snaps[0]); err != nil || fi.Sys() == nil {
		t.Fatal(err)
	}
	if r := run(t, t.TempDir(), "snapshot", "verify", snaps[0]); r.code != 0 {
		t.Errorf("snapshot verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// buildImage builds the image as make image does, tagged "test", into
// dir/out (the static binary is built once per dir), and returns its OCI
// tar and digest.
func buildImage(t *testing.T, dir, out string) (archive, digest string) {
	t.Helper()
	static := filepath.Join(dir, "etcdpilot-static")
	if _, err := os.Stat(static); err != nil {
		build := exec.Command("go", "build", "-trimpath", "-o", static, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("static build: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("go", "run", "../../scripts/image", "-bin", static, "-version", "test", "-out", filepath.Join(dir, out))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/image: %v\n%s", err, b)
	}
	m := regexp.MustCompile(`sha256:[0-9a-f]{64}`).Find(b)
	if m == nil {
		t.Fatalf("no digest:\n%s", b)
	}
	return filepath.Join(dir, out, "etcdpilot-test.oci.tar"), string(m)
}
