package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Stores opens the stores that snapshot locations name — a local path,
// or s3://BUCKET/PREFIX/ — with the settings they need: S3's endpoint
// and addressing (credentials and region come from the AWS SDK's usual
// places: AWS_* environment, profiles), and the age identity that
// decrypts. It is the one place that tells the kinds of store apart.
type Stores struct {
	S3 S3Options
	// AgeIdentity is the age identity file (age-keygen's, or an SSH
	// private key) that decrypts snapshots saved encrypted.
	AgeIdentity string
	// Log hears what a store wants said (a server without conditional
	// writes).
	Log func(msg string)
}

const s3Scheme = "s3://"

// Open returns the store at a location that names a directory or an
// s3://BUCKET/PREFIX/; create makes a missing local directory.
func (c Stores) Open(ctx context.Context, location string, create bool) (Store, error) {
	if strings.HasPrefix(location, s3Scheme) {
		st, err := OpenS3(ctx, location, c.S3)
		if err == nil {
			st.Log = c.Log
		}
		return st, err
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("%s: a snapshot store is a local directory or s3://BUCKET/PREFIX/", location)
	}
	if create {
		if err := os.MkdirAll(location, 0o700); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(location)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", location)
	}
	return Dir{Path: filepath.Clean(location)}, nil
}

// Locate splits a snapshot location (a path, or s3://BUCKET/PREFIX/NAME)
// into its store and the snapshot's name there.
func (c Stores) Locate(ctx context.Context, location string) (Store, string, error) {
	if location == "" {
		return nil, "", errors.New("no snapshot given")
	}
	if strings.HasPrefix(location, s3Scheme) {
		i := strings.LastIndex(location, "/")
		if i < len(s3Scheme) || i == len(location)-1 {
			return nil, "", fmt.Errorf("%s: name the snapshot, s3://BUCKET/PREFIX/NAME.db", location)
		}
		st, err := c.Open(ctx, location[:i+1], false)
		if err != nil {
			return nil, "", err
		}
		return st, location[i+1:], nil
	}
	if strings.Contains(location, "://") {
		return nil, "", fmt.Errorf("%s: a snapshot is a local path or s3://BUCKET/PREFIX/NAME", location)
	}
	return Dir{Path: filepath.Dir(location)}, filepath.Base(location), nil
}

// IsStore reports whether a location names a store rather than one
// snapshot: it ends in a slash, is a bucket alone, or is a local
// directory.
func (c Stores) IsStore(location string) bool {
	if strings.HasSuffix(location, "/") || strings.HasSuffix(location, string(os.PathSeparator)) {
		return true
	}
	if rest, ok := strings.CutPrefix(location, s3Scheme); ok {
		return !strings.Contains(rest, "/")
	}
	st, err := os.Stat(location)
	return err == nil && st.IsDir()
}

// Local makes the snapshot at location a raw local file (read from its
// store and checked, decrypted and decompressed where it must be); call
// done when finished with it.
func (c Stores) Local(ctx context.Context, location string) (string, func(), error) {
	store, name, err := c.Locate(ctx, location)
	if err != nil {
		return "", nil, err
	}
	return fetchRaw(ctx, store, name, c.AgeIdentity)
}

// SidecarAt reads the sidecar of the snapshot at a location;
// os.ErrNotExist when it has none.
func (c Stores) SidecarAt(ctx context.Context, location string) (*Sidecar, error) {
	store, name, err := c.Locate(ctx, location)
	if err != nil {
		return nil, err
	}
	return store.Sidecar(ctx, name)
}
