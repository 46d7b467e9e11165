module example.com/patched

go 1.23

require (
	go.etcd.io/etcd/api/v3 v3.6.16
	go.etcd.io/etcd/client/v3 v3.6.16
)

replace go.etcd.io/etcd/client/v3 => ../etcd/client/v3
