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
	scratch        string
	// conditional caches whether the server honours If-None-Match.
	conditional *bool
	// Log hears about a server without conditional writes.
	Log func(msg string)
}

const (
	s3PartSize    = 16 << 20
	s3Concurrency = 4
)

// IsS3 reports whether a location is an s3:// URL.
func IsS3(location string) bool { return strings.HasPrefix(location, "s3://") }

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

// Scratch is a local temporary directory: saves stream there and are
// verified before the upload.
func (s *S3) Scratch() string {
	if s.scratch == "" {
		s.scratch = os.TempDir()
	}
	return s.scratch
}

// Put uploads the verified local file, then its sidecar; an existing name
// is never replaced. The local file is removed afterwards.
func (s *S3) Put(ctx context.Context, name string, local *fsutil.TempFile, sc *Sidecar) error {
	defer local.Abort()
	sum, err := fileSHA256(local.Name())
	if err != nil {
		return err
	}
	f, err := os.Open(local.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	verified := make(chan error, 1)
	verified <- nil
	if err := s.upload(ctx, name, f, sum, verified); err != nil {
		return err
	}
	return s.PutSidecar(ctx, name, sc)
}

// upload sends r as the object name; an existing name is never replaced.
// After r ends, the upload waits for verified: nil completes it, an error
// aborts it, so no object exists before the local copy passed its checks.
// sum, when known before the upload starts, is the whole file's SHA-256,
// kept as the object's metadata; a snapshot streamed straight into the
// upload has none, and its own SHA-256 (the sidecar's, and the trailer
// etcd wrote) is what a fetch checks. Multipart with bounded memory
// (PartSize × Concurrency).
func (s *S3) upload(ctx context.Context, name string, r io.Reader, sum string, verified <-chan error) error {
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
	body := &gatedReader{r: r, gate: verified}
	// The completion fails if the name came to exist meanwhile.
	in := &transfermanager.UploadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name)), Body: body, IfNoneMatch: aws.String("*")}
	if sum != "" {
		in.Metadata = map[string]string{"file-sha256": sum}
	}
	if _, err := tm.UploadObject(ctx, in); err != nil {
		if body.refused != nil {
			return body.refused
		}
		if conditionalRefused(err) {
			return fsutil.ErrExists
		}
		return s.explain(err)
	}
	return nil
}

// gatedReader reads r to its end, then waits for the gate: nil lets the
// reader end (the upload completes), an error fails the read (the upload
// is aborted).
type gatedReader struct {
	r       io.Reader
	gate    <-chan error
	opened  bool
	refused error
}

func (g *gatedReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	if !g.opened {
		g.refused, g.opened = <-g.gate, true
	}
	if g.refused != nil {
		return n, g.refused
	}
	return n, io.EOF
}

// Fetch downloads the object into a local temporary file and checks its
// SHA-256 against the object's metadata: a missing or corrupt object is
// found before anything uses it.
func (s *S3) Fetch(ctx context.Context, name string) (string, func(), error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.key(name))})
	if err != nil {
		if s.notFound(err) {
			return "", nil, fmt.Errorf("%s%s: %w", s, name, os.ErrNotExist)
		}
		return "", nil, s.explain(err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(s.Scratch(), "."+name+".fetch-*")
	if err != nil {
		return "", nil, err
	}
	done := func() { os.Remove(tmp.Name()) }
	h := newHasher()
	th := &trailerHash{h: sha256.New()}
	if _, err := io.Copy(io.MultiWriter(tmp, h, th), out.Body); err != nil {
		tmp.Close()
		done()
		if strings.Contains(err.Error(), "checksum did not match") {
			return "", nil, fmt.Errorf("%s%s is corrupt: the server's checksum of the object does not match its bytes (%v); nothing was used: use another snapshot", s, name, err)
		}
		return "", nil, fmt.Errorf("download %s%s: %w", s, name, s.explain(err))
	}
	if err := tmp.Close(); err != nil {
		done()
		return "", nil, err
	}
	if want := out.Metadata["file-sha256"]; want != "" && want != h.sum() {
		done()
		return "", nil, fmt.Errorf("%s%s is corrupt: its SHA-256 is %s, the upload recorded %s; nothing was used", s, name, h.sum(), want)
	}
	if out.Metadata["file-sha256"] == "" {
		// Streamed into the upload: the sidecar holds the SHA-256 of the
		// database, which etcd's trailer repeats.
		if sc, err := s.Sidecar(ctx, name); err == nil && sc.SHA256 != "" {
			if got := hex.EncodeToString(th.h.Sum(nil)); got != sc.SHA256 {
				done()
				return "", nil, fmt.Errorf("%s%s is corrupt: its database's SHA-256 is %s, the sidecar recorded %s; nothing was used", s, name, got, sc.SHA256)
			}
		}
	}
	return tmp.Name(), done, nil
}

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

// fileSHA256 hashes a local file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := newHasher()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return h.sum(), nil
}
