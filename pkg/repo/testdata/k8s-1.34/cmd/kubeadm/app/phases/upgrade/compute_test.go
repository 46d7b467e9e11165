package upgrade

import "testing"

func TestEtcdVersions(t *testing.T) {
	const etcdVersion = "3.1.12"
	supported := map[uint8]string{
		13: "3.4.3-0",
		14: "3.4.13-0",
		15: "3.5.5-0",
	}
	_ = supported
}
