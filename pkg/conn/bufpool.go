package conn

import (
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// gRPC's default buffer pool gets a 64 KiB tier. etcd sends a snapshot in
// messages of a 32 KiB blob plus a header, just over the default 32 KiB
// tier, so the proto codec took (and zeroed) a 1 MiB buffer for each one:
// about a second of CPU per 4 GiB streamed. The codec takes only the
// default pool, which gRPC lets a program set once, at initialization.
func init() {
	p, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 16, 20)
	if err != nil {
		panic(err)
	}
	experimental.SetDefaultBufferPool(p)
}
