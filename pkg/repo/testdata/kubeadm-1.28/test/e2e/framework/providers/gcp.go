package providers

const etcdImage = "3.5.9-0"

// EtcdUpgrade upgrades etcd on GCE.
func EtcdUpgrade(targetStorage, targetVersion string) error {
	return etcdUpgradeGCE(targetStorage, targetVersion)
}
