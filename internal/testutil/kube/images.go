package kube

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/pkg/binaries"
)

// PauseImage is the sandbox image the test containerd uses.
const PauseImage = "registry.k8s.io/pause:etcdpilot-test"

// EtcdImage is the image kubeadm would use for an etcd version.
func EtcdImage(v string) string { return "registry.k8s.io/etcd:" + v + "-0" }

var imageMu sync.Mutex

// imageTar writes (once, cached by name) a one-layer image holding file
// at dest, and returns the tarball.
func imageTar(t testutil.T, ref, file, dest string, entrypoint []string) string {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	dir := filepath.Join(binaries.DefaultCacheDir(), "images")
	out := filepath.Join(dir, filepath.Base(ref)+".tar")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	testutil.Must(t, os.MkdirAll(dir, 0o755))
	data, err := os.ReadFile(file)
	testutil.Must(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"tmp/", "var/", "var/lib/", "usr/", "usr/local/", "usr/local/bin/"} {
		testutil.Must(t, tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}))
	}
	testutil.Must(t, tw.WriteHeader(&tar.Header{Name: dest, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}))
	_, err = tw.Write(data)
	testutil.Must(t, err)
	testutil.Must(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	testutil.Must(t, err)
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Entrypoint: entrypoint},
		RootFS: v1.RootFS{Type: "layers"},
	})
	testutil.Must(t, err)
	img, err := mutate.AppendLayers(base, layer)
	testutil.Must(t, err)
	r, err := name.ParseReference(ref)
	testutil.Must(t, err)
	tmp := out + ".tmp"
	testutil.Must(t, tarball.WriteToFile(tmp, r, img))
	testutil.Must(t, os.Rename(tmp, out))
	return out
}

// pauseBinary builds the pause command once.
func pauseBinary(t testutil.T) string {
	t.Helper()
	out := filepath.Join(binaries.DefaultCacheDir(), "images", "pause")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/etcdpilot/etcdpilot/internal/testutil/kube/pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build pause: %v\n%s", err, b)
	}
	return out
}

// importImages loads the pause image and the etcd images of versions into
// containerd's k8s.io namespace.
func (n *Node) importImages(t testutil.T, versions ...string) {
	t.Helper()
	tars := []string{imageTar(t, PauseImage, pauseBinary(t), "pause", []string{"/pause"})}
	bins := testutil.Binaries(t, versions...)
	for _, v := range versions {
		b, err := bins.Get(v)
		testutil.Must(t, err)
		tars = append(tars, imageTar(t, EtcdImage(v), filepath.Join(b.Dir, "etcd"), "usr/local/bin/etcd", nil))
	}
	for _, tf := range tars {
		if b, err := exec.Command("ctr", "-a", n.socket, "-n", "k8s.io", "images", "import", tf).CombinedOutput(); err != nil {
			t.Fatalf("import %s: %v\n%s", tf, err, b)
		}
	}
	fmt.Fprintf(testutil.Writer(t), "imported %d images\n", len(tars))
}
