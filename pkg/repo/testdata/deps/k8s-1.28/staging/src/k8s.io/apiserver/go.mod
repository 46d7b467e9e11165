// This is a generated file. Do not edit directly.

module k8s.io/apiserver

go 1.20

require (
	go.etcd.io/etcd/api/v3 v3.5.9
	go.etcd.io/etcd/client/pkg/v3 v3.5.9
	go.etcd.io/etcd/client/v3 v3.5.9
	go.etcd.io/etcd/server/v3 v3.5.9
	google.golang.org/grpc v1.54.0
	k8s.io/api v0.0.0
)

require (
	go.etcd.io/bbolt v1.3.7 // indirect
	go.etcd.io/etcd/client/v2 v2.305.9 // indirect
	go.etcd.io/etcd/pkg/v3 v3.5.9 // indirect
	go.etcd.io/etcd/raft/v3 v3.5.9 // indirect
)

replace k8s.io/api => ../api
