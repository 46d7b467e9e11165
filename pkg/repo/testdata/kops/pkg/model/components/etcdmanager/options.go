package etcdmanager

type etcdVersion struct {
	Version          string
	Image            string
	SymlinkToVersion string
}

// etcdLatestImages lists the newest etcd image of each supported minor; the
// earlier patches of a minor are symlinks to it.
var etcdLatestImages = []etcdVersion{
	{Version: components.LatestEtcd35Version, Image: "registry.k8s.io/etcd:v" + components.LatestEtcd35Version},
	{Version: components.LatestEtcd36Version, Image: "registry.k8s.io/etcd:v" + components.LatestEtcd36Version},
	{Version: components.LatestEtcd37Version, Image: "registry.k8s.io/etcd:v" + components.LatestEtcd37Version},
}
