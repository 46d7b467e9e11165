package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Objects is the plain side of a store: small whole objects, written once
// and never replaced (point-in-time segments). Names may hold "/" (a
// subdirectory, or a key prefix); they never appear in List, which holds
// snapshots only. Both stores offer it.
type Objects interface {
	// PutObject writes data under name atomically (whole or not at all),
	// never replacing one: fsutil.ErrExists when the name is taken.
	PutObject(ctx context.Context, name string, data []byte) error
	// GetObject reads an object (os.ErrNotExist when there is none).
	GetObject(ctx context.Context, name string) ([]byte, error)
	// ListObjects returns the names under prefix, sorted.
	ListObjects(ctx context.Context, prefix string) ([]string, error)
	// DeleteObject removes an object; a missing one is not an error.
	DeleteObject(ctx context.Context, name string) error
}

// maxObject bounds what GetObject reads into memory.
const maxObject = 256 << 20

// PutObject writes a 0600 temporary file beside the name and links it
// (fsynced) to the name without replacing one.
func (d Dir) PutObject(ctx context.Context, name string, data []byte) error {
	p := d.File(filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := fsutil.CreateTemp(p, 0o600)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	return tmp.Publish()
}

// GetObject reads the file.
func (d Dir) GetObject(ctx context.Context, name string) ([]byte, error) {
	f, err := os.Open(d.File(filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxObject))
}

// ListObjects walks the directory under prefix's directory part.
func (d Dir) ListObjects(ctx context.Context, prefix string) ([]string, error) {
	root := d.File(filepath.FromSlash(prefix[:strings.LastIndex(prefix, "/")+1]))
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(d.Path, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// DeleteObject removes the file.
func (d Dir) DeleteObject(ctx context.Context, name string) error {
	err := os.Remove(d.File(filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// PutObject is one PUT with If-None-Match: * (the server refuses a taken
// name); on a server that ignores it, an existing name is refused first.
func (s *S3) PutObject(ctx context.Context, name string, data []byte) error {
	cond, err := s.conditionalWrites(ctx)
	if err != nil {
		return err
	}
	if !cond {
		if ok, err := s.Exists(ctx, name); err != nil {
			return err
		} else if ok {
			return fsutil.ErrExists
		}
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*")})
	if conditionalRefused(err) {
		return fsutil.ErrExists
	}
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// GetObject reads the object.
func (s *S3) GetObject(ctx context.Context, name string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name))})
	if err != nil {
		if s.notFound(err) {
			return nil, os.ErrNotExist
		}
		return nil, s.explain(err)
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, maxObject))
}

// ListObjects lists the keys under prefix.
func (s *S3) ListObjects(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.key(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.explain(err)
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), s.Prefix))
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeleteObject removes the object.
func (s *S3) DeleteObject(ctx context.Context, name string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name))})
	if err != nil && !s.notFound(err) {
		return s.explain(err)
	}
	return nil
}
