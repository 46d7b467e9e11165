module sigs.k8s.io/etcdadm/etcd-manager

go 1.16

replace k8s.io/kops => k8s.io/kops v1.21.0-alpha.3

replace google.golang.org/grpc => google.golang.org/grpc v1.29.1

require (
	github.com/golang/protobuf v1.5.2
	go.etcd.io/etcd v0.5.0-alpha.5.0.20200910180754-dd1b699fc489
	golang.org/x/net v0.0.0-20210410081132-afb366fc7cd1
	google.golang.org/grpc v1.36.1
	k8s.io/kops v1.21.0-alpha.3
)
