// Command image builds etcdpilot's container image without Docker, with
// go-containerregistry's library (the one ko and crane are built on): one
// layer holding the static binary at /usr/local/bin/etcdpilot, the
// build machine's CA bundle (for S3 over HTTPS), a passwd file naming
// root and nonroot (65532), and an empty /tmp; the default user is
// nonroot. It writes an OCI image layout and the same layout as a tar
// (`ctr images import`, `docker load`, `skopeo copy oci-archive:`).
// The image is reproducible: every time stamp is the commit's
// (SOURCE_DATE_EPOCH), or zero.
//
//	go run ./scripts/image -bin bin/etcdpilot-static -version 0.1.0 -out bin/image
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	bin := flag.String("bin", "", "the static etcdpilot binary (CGO_ENABLED=0)")
	version := flag.String("version", "dev", "the image's tag and version label")
	revision := flag.String("revision", "", "the commit, for the revision label")
	out := flag.String("out", "bin/image", "output directory")
	repo := flag.String("repo", "etcdpilot", "the image's repository name")
	cabundle := flag.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to ship (Debian's ca-certificates)")
	flag.Parse()
	if err := build(*bin, *version, *revision, *out, *repo, *cabundle); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(bin, version, revision, out, repo, cabundle string) error {
	if bin == "" {
		return fmt.Errorf("give -bin, the static etcdpilot binary")
	}
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: %v", s, err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(cabundle)
	if err != nil {
		return fmt.Errorf("%v: install Debian's ca-certificates, or give -ca-bundle", err)
	}
	files := []file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", dir: true, mode: 0o755},
		{name: "home/nonroot/", dir: true, mode: 0o700, uid: 65532},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: "usr/", dir: true, mode: 0o755},
		{name: "usr/local/", dir: true, mode: 0o755},
		{name: "usr/local/bin/", dir: true, mode: 0o755},
		{name: "usr/local/bin/etcdpilot", mode: 0o755, data: binData},
	}
	layerTar, err := tarOf(files, created)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":   "etcdpilot",
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/etcdpilot/etcdpilot",
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint: []string{"/usr/local/bin/etcdpilot"},
			User:       "65532:65532",
			WorkingDir: "/home/nonroot",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot", "ETCDPILOT_STATE_DIR=/var/lib/etcdpilot", "XDG_CACHE_HOME=/var/cache"},
			Labels:     labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
		return err
	}
	// A fresh layout each time, written beside and renamed into place.
	ref := "docker.io/library/" + repo + ":" + version
	dir := filepath.Join(out, "layout")
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	archive := filepath.Join(out, repo+"-"+version+".oci.tar")
	if err := tarDir(dir, archive+".tmp", created); err != nil {
		return err
	}
	if err := os.Rename(archive+".tmp", archive); err != nil {
		return err
	}
	d, _ := img.Digest()
	fmt.Printf("%s %s\n  layout  %s\n  archive %s\n", ref, d, dir, archive)
	return nil
}

type file struct {
	name string
	dir  bool
	mode int64
	uid  int
	data []byte
}

func tarOf(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// tarDir writes a directory tree into a tar, names sorted, times fixed.
func tarDir(dir, to string, mtime time.Time) error {
	f, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), mtime, 0, 0, "", ""
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
