module example.com/inventory

go 1.22

require (
	go.etcd.io/etcd/api/v3 v3.5.21
	go.etcd.io/etcd/client/v3 v3.5.21
	google.golang.org/grpc v1.59.0
)

require go.etcd.io/etcd/client/pkg/v3 v3.5.21 // indirect

// Held back after an interop problem with an old proxy.
replace google.golang.org/grpc => google.golang.org/grpc v1.59.0
