package components

// EtcdOptionsBuilder adds options for etcd to the model
type EtcdOptionsBuilder struct {
	*OptionsContext
}

const (
	LatestEtcd35Version = "3.5.31"
	LatestEtcd36Version = "3.6.12"
	LatestEtcd37Version = "3.7.0"
)

// BuildOptions fills in the defaults for the etcd cluster model.
func (b *EtcdOptionsBuilder) BuildOptions(o *kops.Cluster) error {
	for i := range o.Spec.EtcdClusters {
		c := &o.Spec.EtcdClusters[i]
		if c.Version == "" {
			// We run the k8s-recommended versions of etcd
			switch {
			case b.ControlPlaneKubernetesVersion().IsLT("1.34.0"):
				c.Version = LatestEtcd35Version
			case b.ControlPlaneKubernetesVersion().IsLT("1.37.0"):
				c.Version = LatestEtcd36Version
			default:
				c.Version = LatestEtcd37Version
			}
		}
	}
	return nil
}
