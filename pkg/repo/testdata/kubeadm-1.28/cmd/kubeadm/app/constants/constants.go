package constants

const (
	// MinExternalEtcdVersion indicates minimum external etcd version which kubeadm supports
	MinExternalEtcdVersion = "3.4.13-4"

	// DefaultEtcdVersion indicates the default etcd version that kubeadm uses
	DefaultEtcdVersion = "3.5.9-0"
)

var (
	// SupportedEtcdVersion lists officially supported etcd versions with corresponding Kubernetes releases
	SupportedEtcdVersion = map[uint8]string{
		22: "3.5.9-0",
		23: "3.5.9-0",
		24: "3.5.9-0",
		25: "3.5.9-0",
		26: "3.5.9-0",
		27: "3.5.9-0",
		28: "3.5.9-0",
	}
)
