package snapshot

import (
	"bytes"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

func TestKVKey(t *testing.T) {
	kv := mvccpb.KeyValue{Key: []byte("/registry/pods/x"), CreateRevision: 5, ModRevision: 9, Version: 2, Value: bytes.Repeat([]byte("v"), 300), Lease: 7}
	b, err := kv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kvKey(b)
	if err != nil || string(k) != "/registry/pods/x" {
		t.Fatalf("kvKey = %q, %v", k, err)
	}
	if _, err := kvKey(b[:3]); err == nil {
		t.Fatal("truncated record accepted")
	}
}
