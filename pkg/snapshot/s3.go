package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// S3Options override the AWS SDK's usual settings (AWS_* environment,
// ~/.aws/config and credentials, profiles).
type S3Options struct {
	// Endpoint replaces AWS_ENDPOINT_URL_S3 (an S3-compatible server).
	Endpoint string
	// PathStyle addresses bucket/key instead of bucket.host/key.
	PathStyle bool
}

// S3 is a store in S3-compatible object storage: s3://bucket/prefix/NAME,
// with the sidecar as NAME.json and the SHA-256 in NAME's metadata.
// Uploads are multipart with bounded memory (PartSize × Concurrency);
// a snapshot is uploaded only after its local verification, and an object
// is fetched into a local file checked against its sidecar.
type S3 struct {
	Bucket, Prefix string
	client         *s3.Client
	endpoint       string
	// conditional caches whether the server honours If-None-Match.
	conditional *bool
	// Log hears about a server without conditional writes.
	Log func(msg string)
}

const (
	s3PartSize    = 16 << 20
	s3Concurrency = 4
)

// OpenS3 connects to the bucket of an s3://bucket/prefix/ location and
// checks that it is there and readable.
func OpenS3(ctx context.Context, location string, o S3Options) (*S3, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("%s: an S3 location is s3://BUCKET/PREFIX/", location)
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if err := checkKey(location, prefix); err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(8))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or a profile's region)")
	}
	st := &S3{Bucket: u.Host, Prefix: prefix}
	st.client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = so.UsePathStyle || o.PathStyle
		// Parts are not hashed a second time for the signature (SigV4's
		// payload SHA-256, computed for plain-http endpoints): each part
		// carries its CRC32 checksum, and the snapshot its own SHA-256.
		so.APIOptions = append(so.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		if so.BaseEndpoint != nil {
			st.endpoint = *so.BaseEndpoint
		}
	})
	if st.endpoint == "" {
		st.endpoint = "AWS S3 in " + cfg.Region
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := st.client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(st.Bucket)}); err != nil {
		// A HEAD answer has no body: ask again with a GET, whose error
		// says more (the region the server expects).
		if _, lerr := st.client.ListObjectsV2(hctx, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket), MaxKeys: aws.Int32(1)}); lerr != nil {
			err = lerr
		}
		return nil, st.explain(err)
	}
	return st, nil
}

// checkKey refuses a key with an empty, "." or ".." segment before any
// request: servers answer them with errors that point elsewhere (a 400
// read as a region mismatch), or list something else.
func checkKey(location, key string) error {
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, seg := range segs {
		if key != "" && (seg == "" || seg == "." || seg == "..") {
			return fmt.Errorf("%s: the key has an empty, \".\" or \"..\" segment; give a plain path: s3://BUCKET/PREFIX/NAME", location)
		}
	}
	return nil
}

// explain names the bucket and the endpoint in an S3 error, and what to do.
func (s *S3) explain(err error) error {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	where := fmt.Sprintf("bucket %s at %s", s.Bucket, s.endpoint)
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "no EC2 IMDS role found") || strings.Contains(msg, "get identity: get credentials"):
		return fmt.Errorf("no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials (on EC2, an instance role)", where)
	case strings.Contains(msg, "checksum did not match") || strings.Contains(msg, "ChecksumMismatch") || code == "BadDigest" || code == "XAmzContentChecksumMismatch":
		return fmt.Errorf("%s: the object's checksum does not match what the server sent: the object is corrupted in the bucket (or on the way): fetch it again, or use another snapshot (%s)", where, code)
	}
	switch code {
	case "InvalidAccessKeyId", "XAdminUserNotFound", "UserNotFound", "InvalidToken", "ExpiredToken":
		return fmt.Errorf("%s does not know the access key (%s): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE", where, code)
	case "NotFound", "NoSuchBucket":
		return fmt.Errorf("%s does not exist: create it, or check the name and --s3-endpoint", where)
	case "Forbidden", "AccessDenied", "SignatureDoesNotMatch":
		return fmt.Errorf("%s refused the credentials (%s): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE", where, code)
	case "AuthorizationHeaderMalformed", "PermanentRedirect", "BadRequest", "IllegalLocationConstraintException":
		msg := code
		if ae != nil && ae.ErrorMessage() != "" {
			msg = ae.ErrorMessage()
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.Response != nil {
			if r := re.Response.Header.Get("x-amz-bucket-region"); r != "" {
				msg += "; the bucket is in " + r
			}
		}
		return fmt.Errorf("%s: %s: set AWS_REGION to the bucket's region", where, msg)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func (s *S3) String() string { return "s3://" + s.Bucket + "/" + s.Prefix }

func (s *S3) key(name string) string { return s.Prefix + name }

// Location is the object's URL.
func (s *S3) Location(name string) string { return s.String() + name }

// Put streams r into a multipart upload (never replacing an existing
// name); when r ends, commit decides whether the upload completes, and
// its sidecar is written after it.
func (s *S3) Put(ctx context.Context, name string, r io.Reader, commit Commit) error {
	var sc *Sidecar
	body := &committedReader{r: r, commit: func() error {
		var err error
		sc, err = commit("")
		return err
	}}
	if err := s.upload(ctx, name, body); err != nil {
		return err
	}
	if err := s.PutSidecar(ctx, name, sc); err != nil {
		return fmt.Errorf("snapshot saved as %s but its sidecar could not be written: %w", s.Location(name), err)
	}
	return nil
}

// committedReader reads r to its end, then runs commit: nil ends the
// stream (the upload completes), an error fails it (the upload aborts).
type committedReader struct {
	r      io.Reader
	commit func() error
	done   bool
	err    error
}

func (c *committedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	if !c.done {
		c.err, c.done = c.commit(), true
	}
	if c.err != nil {
		return n, c.err
	}
	return n, io.EOF
}

// upload sends body as the object name; an existing name is never
// replaced (the completion carries If-None-Match: *, or a lock object
// guards the name on servers that ignore it). The body's commit, run when
// its reader ends, completes or aborts the upload: no object exists
// before the bytes passed their checks. Multipart with bounded memory
// (PartSize × Concurrency).
func (s *S3) upload(ctx context.Context, name string, body *committedReader) error {
	cond, err := s.conditionalWrites(ctx)
	if err != nil {
		return err
	}
	if !cond {
		if s.Log != nil {
			s.Log(fmt.Sprintf("the S3 server at %s ignores If-None-Match on writes: saves to %s take a lock object first (%s.lock-*)", s.endpoint, s, name))
		}
		release, err := s.lockName(ctx, name)
		if err != nil {
			return err
		}
		defer release()
	}
	if ok, err := s.Exists(ctx, name); err != nil {
		return err
	} else if ok {
		return fsutil.ErrExists
	}
	defer s.holdLease(ctx, name)()
	tm := transfermanager.New(s.client, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.Concurrency = s3PartSize, s3Concurrency
	})
	// The completion fails if the name came to exist meanwhile.
	in := &transfermanager.UploadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name)), Body: body, IfNoneMatch: aws.String("*")}
	if _, err := tm.UploadObject(ctx, in); err != nil {
		if body.err != nil {
			return body.err
		}
		if conditionalRefused(err) {
			return fsutil.ErrExists
		}
		return s.explain(err)
	}
	return nil
}

// Get streams the object; at its end the bytes are checked against the
// SHA-256 recorded with it (the object's metadata, else the sidecar's):
// a corrupt object fails the read that would end it.
func (s *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name))})
	if err != nil {
		if s.notFound(err) {
			return nil, fmt.Errorf("%s: %w", s.Location(name), os.ErrNotExist)
		}
		return nil, s.explain(err)
	}
	v := &checkedObject{body: out.Body, what: s.Location(name), want: out.Metadata["file-sha256"], whole: newHasher(), db: &trailerHash{h: sha256.New()}, s: s}
	if sc, err := s.Sidecar(ctx, name); err == nil && v.want == "" {
		// An encoded object: the stored file's SHA-256; a plain one:
		// its database's, which etcd's trailer repeats.
		if len(sc.Encoding) > 0 {
			v.want = sc.StoredSHA256
		} else {
			v.wantDB = sc.SHA256
		}
	}
	return v, nil
}

// checkedObject reads an object and checks it at its end.
type checkedObject struct {
	body         io.ReadCloser
	what         string
	want, wantDB string
	whole        *fileHasher
	db           *trailerHash
	s            *S3
}

func (c *checkedObject) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	c.whole.Write(p[:n])
	c.db.Write(p[:n])
	switch {
	case err == io.EOF:
		if c.want != "" && c.want != c.whole.sum() {
			return n, fmt.Errorf("%s is corrupt: its SHA-256 is %s, the upload recorded %s; nothing was used", c.what, c.whole.sum(), c.want)
		}
		if got := hex.EncodeToString(c.db.h.Sum(nil)); c.want == "" && c.wantDB != "" && got != c.wantDB {
			return n, fmt.Errorf("%s is corrupt: its database's SHA-256 is %s, the sidecar recorded %s; nothing was used", c.what, got, c.wantDB)
		}
	case err != nil && strings.Contains(err.Error(), "checksum did not match"):
		return n, fmt.Errorf("%s is corrupt: the server's checksum of the object does not match its bytes (%v); nothing was used: use another snapshot", c.what, err)
	case err != nil:
		return n, fmt.Errorf("download %s: %w", c.what, c.s.explain(err))
	}
	return n, err
}

func (c *checkedObject) Close() error { return c.body.Close() }

func (s *S3) notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf)
}

// Exists asks for the object's head.
func (s *S3) Exists(ctx context.Context, name string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name))})
	if err == nil {
		return true, nil
	}
	if s.notFound(err) {
		return false, nil
	}
	return false, s.explain(err)
}

// List returns the *.db objects under the prefix, newest first, with their
// sidecars, and the multipart uploads that never completed.
func (s *S3) List(ctx context.Context) ([]Entry, error) {
	out := []Entry{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.explain(err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), s.Prefix)
			if !IsSnapshotName(name) || strings.Contains(name, "/") {
				continue
			}
			en := Entry{File: s.String() + name, Name: name, Size: aws.ToInt64(o.Size), Time: aws.ToTime(o.LastModified).UTC()}
			if sc, err := s.Sidecar(ctx, name); err == nil {
				en.Sidecar, en.SidecarOK = sc, true
				en.Time, en.Verified, en.Drilled = sc.CreatedAt, sc.VerifiedAt, sc.DrilledAt
			}
			out = append(out, en)
		}
	}
	mp, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix)})
	if err == nil {
		for _, u := range mp.Uploads {
			name := strings.TrimPrefix(aws.ToString(u.Key), s.Prefix)
			out = append(out, Entry{File: s.String() + name, Name: name, Time: aws.ToTime(u.Initiated).UTC(), Incomplete: s.uploadState(ctx, name, aws.ToTime(u.Initiated))})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Delete removes the object and its sidecar.
func (s *S3) Delete(ctx context.Context, name string) error {
	for _, k := range []string{s.key(name), s.key(name) + ".json"} {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(k)}); err != nil && !s.notFound(err) {
			return s.explain(err)
		}
	}
	return nil
}

// AbortIncomplete aborts the unfinished multipart uploads of name and
// removes their lease; a finished object of that name is left alone.
func (s *S3) AbortIncomplete(ctx context.Context, name string) error {
	mp, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.key(name))})
	if err != nil {
		return s.explain(err)
	}
	for _, u := range mp.Uploads {
		if aws.ToString(u.Key) == s.key(name) {
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.Bucket), Key: u.Key, UploadId: u.UploadId}); err != nil && !s.notFound(err) {
				return s.explain(err)
			}
		}
	}
	s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.leaseKey(name))})
	return nil
}

// Sidecar reads NAME.json.
func (s *S3) Sidecar(ctx context.Context, name string) (*Sidecar, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name) + ".json")})
	if err != nil {
		if s.notFound(err) {
			return nil, os.ErrNotExist
		}
		return nil, s.explain(err)
	}
	defer out.Body.Close()
	var sc Sidecar
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&sc); err != nil {
		return nil, fmt.Errorf("sidecar of %s%s: %w", s, name, err)
	}
	return &sc, nil
}

// PutSidecar writes NAME.json.
func (s *S3) PutSidecar(ctx context.Context, name string, sc *Sidecar) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name) + ".json"),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json")})
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// fileHasher hashes a whole file as it is copied.
type fileHasher struct{ h hash.Hash }

func newHasher() *fileHasher { return &fileHasher{h: sha256.New()} }

func (f *fileHasher) Write(p []byte) (int, error) { return f.h.Write(p) }
func (f *fileHasher) sum() string                 { return hex.EncodeToString(f.h.Sum(nil)) }
