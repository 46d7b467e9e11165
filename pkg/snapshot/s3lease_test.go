package snapshot

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
)

// TestAbandonedUploads (issue 27): a multipart upload whose uploader died
// (no lease, or a stale one) lists as abandoned and prune aborts it; one
// whose lease is fresh lists as in progress and is kept; a finished
// snapshot of the same name as an abandoned upload is not touched.
func TestAbandonedUploads(t *testing.T) {
	t.Parallel()
	testutil.S3Env(t)
	endpoint, _ := testutil.S3(t, "leases")
	ctx := testutil.Context(t, 2*time.Minute)
	st, err := OpenS3(ctx, "s3://leases/etcd/", S3Options{Endpoint: endpoint, PathStyle: true})
	testutil.Must(t, err)
	start := func(name string) {
		out, err := st.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("leases"), Key: aws.String(st.key(name))})
		testutil.Must(t, err)
		_, err = st.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("leases"), Key: aws.String(st.key(name)), UploadId: out.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 1<<20))})
		testutil.Must(t, err)
	}
	start("dead.db")
	start("alive.db")
	start("kept.db")
	_, err = st.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("leases"), Key: aws.String(st.key("kept.db")), Body: bytes.NewReader([]byte("a finished object"))})
	testutil.Must(t, err)
	// Too young to judge: every upload is in progress.
	list, err := st.List(ctx)
	testutil.Must(t, err)
	for _, e := range list {
		if e.Incomplete == "abandoned" {
			t.Fatalf("a young upload listed as abandoned: %+v", e)
		}
	}
	release := st.holdLease(ctx, "alive.db")
	defer release()
	if got := st.uploadState(ctx, "dead.db", time.Now().Add(-time.Hour)); got != "abandoned" {
		t.Fatalf("an hour-old upload without a lease: %s", got)
	}
	if got := st.uploadState(ctx, "alive.db", time.Now().Add(-time.Hour)); got != "in progress" {
		t.Fatalf("an upload with a fresh lease: %s", got)
	}
	for _, name := range []string{"dead.db", "kept.db"} {
		testutil.Must(t, st.AbortIncomplete(ctx, name))
	}
	mp, err := st.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("leases")})
	testutil.Must(t, err)
	if len(mp.Uploads) != 1 || aws.ToString(mp.Uploads[0].Key) != st.key("alive.db") {
		t.Fatalf("uploads left: %+v", mp.Uploads)
	}
	if ok, err := st.Exists(ctx, "kept.db"); err != nil || !ok {
		t.Fatalf("aborting kept.db's upload removed the finished object: %v %v", ok, err)
	}
}
