package snapshot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Two saves to one name must not both succeed. The upload's completion
// carries If-None-Match: * (S3 and versitygw honour it), so the second
// writer's completion fails and it says nothing was saved. A server that
// ignores the header is found by a probe, and saves to it take a lock
// object first.

// conditionalRefused reports whether err is an S3 server refusing a
// conditional write: the name exists, or another write to it won.
func conditionalRefused(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	}
	return false
}

const probeName = ".etcdpilot-conditional-write-probe"

// conditionalWrites probes once whether the server honours If-None-Match
// on writes: a second conditional put of the probe object must fail.
func (s *S3) conditionalWrites(ctx context.Context) (bool, error) {
	if s.conditional != nil {
		return *s.conditional, nil
	}
	put := func() error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(probeName)),
			Body: bytes.NewReader([]byte("etcdpilot checks that this server refuses overwrites with If-None-Match: *\n")), IfNoneMatch: aws.String("*")})
		return err
	}
	ok := false
	err := put()
	switch {
	case conditionalRefused(err):
		ok = true
	case err != nil:
		return false, s.explain(err)
	default:
		err = put()
		if err != nil && !conditionalRefused(err) {
			return false, s.explain(err)
		}
		ok = err != nil
	}
	s.conditional = &ok
	return ok, nil
}

// lockTTL is how old a lock object may be before it is taken for the
// leftover of a save that died.
const lockTTL = time.Hour

// lockName takes the name for one save on a server without conditional
// writes: it writes NAME.lock-RANDOM, lists NAME.lock-*, and holds the
// name only if its lock is the only live one. Two saves racing may both
// back off (each sees the other), never both proceed. The release
// deletes the lock.
func (s *S3) lockName(ctx context.Context, name string) (func(), error) {
	var b [8]byte
	rand.Read(b[:])
	prefix := s.key(name) + ".lock-"
	mine := prefix + hex.EncodeToString(b[:])
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(mine), Body: bytes.NewReader(nil)}); err != nil {
		return nil, s.explain(err)
	}
	release := func() {
		s.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(mine)})
	}
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		release()
		return nil, s.explain(err)
	}
	var others []string
	for _, o := range out.Contents {
		k := aws.ToString(o.Key)
		if k == mine {
			continue
		}
		if time.Since(aws.ToTime(o.LastModified)) > lockTTL {
			s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: o.Key})
			continue
		}
		others = append(others, strings.TrimPrefix(k, s.Prefix))
	}
	if len(others) > 0 {
		release()
		sort.Strings(others)
		return nil, fmt.Errorf("%w: another save holds %s (%s)", fsutil.ErrExists, name, strings.Join(others, ", "))
	}
	return release, nil
}

// An upload under way keeps a lease object (NAME.uploading) fresh; a
// multipart upload whose lease is missing or stale was abandoned (the
// server or etcdpilot died) and prune aborts it.
const (
	leaseEvery = 30 * time.Second
	leaseStale = 3 * leaseEvery
)

func (s *S3) leaseKey(name string) string { return s.key(name) + ".uploading" }

// holdLease writes the lease now and every leaseEvery until the returned
// function is called, which deletes it.
func (s *S3) holdLease(ctx context.Context, name string) func() {
	put := func() {
		s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.leaseKey(name)),
			Body: bytes.NewReader([]byte(time.Now().UTC().Format(time.RFC3339) + "\n"))})
	}
	put()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				put()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		s.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.leaseKey(name))})
	}
}

// uploadState says whether a multipart upload started at initiated is
// in progress (its lease is fresh, or it is too young to have one) or
// abandoned.
func (s *S3) uploadState(ctx context.Context, name string, initiated time.Time) string {
	if time.Since(initiated) < leaseStale {
		return "in progress"
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.leaseKey(name))})
	if err == nil && time.Since(aws.ToTime(out.LastModified)) < leaseStale {
		return "in progress"
	}
	return "abandoned"
}
