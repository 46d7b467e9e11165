package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Encoding is how a saved snapshot is stored: compressed with zstd,
// encrypted for age recipients, or both (compressed first). Verify and
// restore recognise both by their headers and undo them.
type Encoding struct {
	Compress bool
	// Recipients are age recipients (age1..., or ssh-ed25519/ssh-rsa keys).
	Recipients []string
}

// IdentityFile holds the age identities (age-keygen's file, or an SSH
// private key) that decrypt snapshots; set from --age-identity.
var IdentityFile string

var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	ageMagic  = []byte("age-encryption.org/v1")
)

// snapshotSuffixes are the names a store lists as snapshots.
var snapshotSuffixes = []string{".db", ".db.zst", ".db.age", ".db.zst.age"}

// IsSnapshotName reports whether a file name is a snapshot's.
func IsSnapshotName(n string) bool {
	for _, s := range snapshotSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// Suffix is what the encoding adds to a snapshot's name.
func (e Encoding) Suffix() string {
	s := ""
	if e.Compress {
		s += ".zst"
	}
	if len(e.Recipients) > 0 {
		s += ".age"
	}
	return s
}

// Names lists the encoding's steps for the sidecar.
func (e Encoding) Names() []string {
	var out []string
	if e.Compress {
		out = append(out, "zstd")
	}
	if len(e.Recipients) > 0 {
		out = append(out, "age")
	}
	return out
}

// ParseRecipients checks age recipients before anything is saved.
func ParseRecipients(rs []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, r := range rs {
		parsed, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			return nil, fmt.Errorf("--encrypt %q: not an age recipient (age1..., from age-keygen -y): %v", r, err)
		}
		out = append(out, parsed...)
	}
	return out, nil
}

// encode writes the raw snapshot src into a new 0600 temporary file named
// for dst: zstd first, then age.
func encode(src, dst string, e Encoding) (*fsutil.TempFile, error) {
	recipients, err := ParseRecipients(e.Recipients)
	if err != nil {
		return nil, err
	}
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := fsutil.CreateTemp(dst, 0o600)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(out.File, 1<<20)
	var w io.Writer = bw
	var closers []io.Closer
	if len(recipients) > 0 {
		aw, err := age.Encrypt(w, recipients...)
		if err != nil {
			out.Abort()
			return nil, err
		}
		w, closers = aw, append([]io.Closer{aw}, closers...)
	}
	if e.Compress {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			out.Abort()
			return nil, err
		}
		w, closers = zw, append([]io.Closer{zw}, closers...)
	}
	if _, err := io.Copy(w, in); err != nil {
		out.Abort()
		return nil, err
	}
	for _, c := range closers { // innermost (zstd) first
		if err := c.Close(); err != nil {
			out.Abort()
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		out.Abort()
		return nil, err
	}
	if err := out.Sync(); err != nil {
		out.Abort()
		return nil, err
	}
	return out, nil
}

// decode makes a raw snapshot of a stored file: it undoes age (with the
// identities of IdentityFile) and zstd, recognised by their headers, into
// a temporary file beside it; a plain snapshot is returned as it is.
func decode(path string) (string, func(), error) {
	head, err := peek(path, len(ageMagic))
	if err != nil {
		return "", nil, err
	}
	if !bytes.HasPrefix(head, ageMagic) && !bytes.HasPrefix(head, zstdMagic) {
		return path, func() {}, nil
	}
	in, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer in.Close()
	var r io.Reader = bufio.NewReaderSize(in, 1<<20)
	if bytes.HasPrefix(head, ageMagic) {
		ids, err := identities()
		if err != nil {
			return "", nil, fmt.Errorf("%s is encrypted with age: %w", path, err)
		}
		if r, err = age.Decrypt(r, ids...); err != nil {
			return "", nil, fmt.Errorf("%s: decrypt: %w (is --age-identity the key of one of its recipients?)", path, err)
		}
		br := bufio.NewReader(r)
		if h, _ := br.Peek(len(zstdMagic)); bytes.Equal(h, zstdMagic) {
			head = zstdMagic
		} else {
			head = nil
		}
		r = br
	}
	if bytes.HasPrefix(head, zstdMagic) {
		zr, err := zstd.NewReader(r)
		if err != nil {
			return "", nil, err
		}
		defer zr.Close()
		r = zr
	}
	// 0600, beside the fetched file (the system's temp dir when that
	// directory is read-only).
	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".decoded-*")
	if err != nil {
		if out, err = os.CreateTemp("", "etcdpilot-decoded-*"); err != nil {
			return "", nil, err
		}
	}
	done := func() { os.Remove(out.Name()) }
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		done()
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return out.Name(), done, nil
}

func peek(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

func identities() ([]age.Identity, error) {
	if IdentityFile == "" {
		return nil, errors.New("give the key that decrypts it: --age-identity FILE")
	}
	f, err := os.Open(IdentityFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("--age-identity %s: %w", IdentityFile, err)
	}
	return ids, nil
}
