package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Encoding is how a saved snapshot is stored: compressed with zstd,
// encrypted for age recipients, or both (compressed first). Verify and
// restore recognise both by their headers and undo them.
type Encoding struct {
	Compress bool
	// Recipients are age recipients (age1..., or ssh-ed25519/ssh-rsa keys).
	Recipients []string
}

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

// encoder wraps w so that what is written is stored encoded: zstd first,
// then age. Closing it flushes both (w itself stays open).
func encoder(w io.Writer, e Encoding) (io.WriteCloser, error) {
	recipients, err := ParseRecipients(e.Recipients)
	if err != nil {
		return nil, err
	}
	var closers []io.Closer
	if len(recipients) > 0 {
		aw, err := age.Encrypt(w, recipients...)
		if err != nil {
			return nil, err
		}
		w, closers = aw, append([]io.Closer{aw}, closers...)
	}
	if e.Compress {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, err
		}
		w, closers = zw, append([]io.Closer{zw}, closers...)
	}
	return &chainWriter{Writer: w, closers: closers}, nil
}

// chainWriter closes its encoders innermost (zstd) first.
type chainWriter struct {
	io.Writer
	closers []io.Closer
}

func (c *chainWriter) Close() error {
	for _, cl := range c.closers {
		if err := cl.Close(); err != nil {
			return err
		}
	}
	return nil
}

// encoded reports whether a stored snapshot's first bytes are age's or
// zstd's.
func encoded(head []byte) bool {
	return bytes.HasPrefix(head, ageMagic) || bytes.HasPrefix(head, zstdMagic)
}

// decodeStream undoes age (with the identities in the file identity) and zstd,
// recognised by their headers (head: r's first bytes, still unread), so
// that reading the result yields the raw snapshot. what names it in
// errors; call done when finished.
func decodeStream(r io.Reader, head []byte, what, identity string) (io.Reader, func(), error) {
	done := func() {}
	if bytes.HasPrefix(head, ageMagic) {
		ids, err := identities(identity)
		if err != nil {
			return nil, nil, fmt.Errorf("%s is encrypted with age: %w", what, err)
		}
		if r, err = age.Decrypt(r, ids...); err != nil {
			return nil, nil, fmt.Errorf("%s: decrypt: %w (is --age-identity the key of one of its recipients?)", what, err)
		}
		br := bufio.NewReader(r)
		head, _ = br.Peek(len(zstdMagic))
		r = br
	}
	if bytes.HasPrefix(head, zstdMagic) {
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		r, done = zr, zr.Close
	}
	return r, done, nil
}

func identities(file string) ([]age.Identity, error) {
	if file == "" {
		return nil, errors.New("give the key that decrypts it: --age-identity FILE")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("--age-identity %s: %w", file, err)
	}
	return ids, nil
}

// EncodeBytes encodes a small whole object as snapshots are stored.
func EncodeBytes(data []byte, e Encoding) ([]byte, error) {
	var buf bytes.Buffer
	w, err := encoder(&buf, e)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeBytes undoes EncodeBytes (what names the object in errors,
// identity is the age identity file).
func DecodeBytes(data []byte, what, identity string) ([]byte, error) {
	r, done, err := decodeStream(bytes.NewReader(data), data, what, identity)
	if err != nil {
		return nil, err
	}
	defer done()
	out, err := io.ReadAll(io.LimitReader(r, maxObject))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
