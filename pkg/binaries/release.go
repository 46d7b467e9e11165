package binaries

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/progress"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// ErrChecksum means a downloaded tarball does not match its SHA256SUMS entry.
var ErrChecksum = errors.New("checksum mismatch")

// TarballName is the release asset name for this platform.
func TarballName(cv string) string {
	return fmt.Sprintf("etcd-%s-%s-%s.tar.gz", cv, runtime.GOOS, runtime.GOARCH)
}

func (m *Manager) mirror() string {
	if m.Mirror != "" {
		return strings.TrimRight(m.Mirror, "/")
	}
	return DefaultMirror
}

func (m *Manager) fromRelease(ctx context.Context, cv string) (in *Install, err error) {
	base := m.mirror() + "/" + cv
	name := TarballName(cv)
	sums, err := fetchSmall(ctx, base+"/SHA256SUMS")
	if err != nil {
		return nil, err
	}
	want, err := sumFor(sums, name)
	if err != nil {
		return nil, fmt.Errorf("%s/SHA256SUMS: %w", base, err)
	}
	staging, err := m.staging(cv)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	tarPath := filepath.Join(staging, name)
	got, err := m.download(ctx, base+"/"+name, tarPath)
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, fmt.Errorf("%w for %s: SHA256SUMS says %s, download is %s; nothing was installed", ErrChecksum, name, want, got)
	}
	tools, err := extractTools(tarPath, staging)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	os.Remove(tarPath)
	if err := checkVersion(filepath.Join(staging, "etcd"), cv); err != nil {
		return nil, err
	}
	return &Install{Version: cv, Dir: staging, Source: SourceRelease, Origin: base + "/" + name, Tools: tools, SHA256: got}, nil
}

// FetchSHA256SUMS downloads release cv's SHA256SUMS (cv: "v3.6.10") from
// mirror (DefaultMirror when empty).
func FetchSHA256SUMS(ctx context.Context, mirror, cv string) (url string, sums []byte, err error) {
	m := &Manager{Mirror: mirror}
	url = m.mirror() + "/" + cv + "/SHA256SUMS"
	sums, err = fetchSmall(ctx, url)
	return url, sums, err
}

func fetchSmall(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// sumFor finds name's hash in a SHA256SUMS file ("<hex>  <name>" lines).
func sumFor(sums []byte, name string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(string(sums)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name {
			if _, err := hex.DecodeString(f[0]); err != nil || len(f[0]) != 64 {
				return "", fmt.Errorf("malformed hash for %s", name)
			}
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("no entry for %s", name)
}

func (m *Manager) download(ctx context.Context, url, dst string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	bar := progress.NewCounter(m.out(), "downloading "+path.Base(url), resp.ContentLength)
	if _, err := io.Copy(io.MultiWriter(f, h, bar), resp.Body); err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	bar.Finish()
	return hex.EncodeToString(h.Sum(nil)), f.Sync()
}

// extractTools copies etcd, etcdctl and etcdutl (when present) out of a
// release tarball into dir.
func extractTools(tarPath, dir string) ([]string, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	found := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(h.Name)
		if !isTool(base) {
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, base), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(out, io.LimitReader(tr, 1<<30)); err != nil {
			out.Close()
			return nil, err
		}
		if err := out.Close(); err != nil {
			return nil, err
		}
		found[base] = true
	}
	return present(found)
}

func isTool(name string) bool {
	for _, t := range Tools {
		if t == name {
			return true
		}
	}
	return false
}

// present lists the tools found, in order, and requires etcd and etcdctl.
func present(found map[string]bool) ([]string, error) {
	var tools []string
	for _, t := range Tools {
		if found[t] {
			tools = append(tools, t)
		}
	}
	if !found["etcd"] || !found["etcdctl"] {
		return nil, fmt.Errorf("etcd and etcdctl are required, found only %v", tools)
	}
	return tools, nil
}

// checkVersion runs "etcd --version" and compares the reported version.
func checkVersion(etcdBin, cv string) error {
	got, err := BinaryVersion(etcdBin)
	if err != nil {
		return err
	}
	if version.Compare(got, cv) != 0 {
		return fmt.Errorf("%s reports version %s, want %s", etcdBin, version.Plain(got), version.Plain(cv))
	}
	return nil
}
