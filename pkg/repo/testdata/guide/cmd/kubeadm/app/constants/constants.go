package constants

const (
	// KubeletHealthzPort is the port of the kubelet healthz endpoint
	KubeletHealthzPort = 10248

	// MinExternalEtcdVersion indicates minimum external etcd version which kubeadm supports
	MinExternalEtcdVersion = "3.5.24-0"

	// DefaultEtcdVersion indicates the default etcd version that kubeadm uses
	DefaultEtcdVersion = "3.6.8-0"

	// Etcd defines variable used internally when referring to etcd component
	Etcd = "etcd"
)

var (
	// SupportedEtcdVersion lists officially supported etcd versions with corresponding Kubernetes releases.
	// If you are updating the etcd version, make sure kubeadm can fall back to
	// an etcd version even if the map is not yet updated before a release. The user will
	// get a warning in that case, so ideally the map should be updated for each release.
	SupportedEtcdVersion = map[uint8]string{
		34: "3.6.8-0",
		35: "3.6.8-0",
		36: "3.6.8-0",
	}
)
