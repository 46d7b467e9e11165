package constants

const (
	// MinExternalEtcdVersion indicates minimum external etcd version which kubeadm supports
	MinExternalEtcdVersion = "3.5.21-0"

	// DefaultEtcdVersion indicates the default etcd version that kubeadm uses
	DefaultEtcdVersion = "3.6.4-0"
)

var (
	// SupportedEtcdVersion lists officially supported etcd versions with corresponding Kubernetes releases
	SupportedEtcdVersion = map[uint8]string{
		31: "3.5.21-0",
		32: "3.5.21-0",
		33: "3.5.21-0",
		34: "3.6.4-0",
	}
)
