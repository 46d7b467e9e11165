package printer

import (
	"fmt"
	"strings"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

func installView(in *binaries.Install) *view {
	return lines(fmt.Sprintf("etcd %s (%s) in %s", version.Plain(in.Version), in.Source, in.Dir))
}

func installListView(list []*binaries.Install) *view {
	vw := &view{cols: []string{"VERSION", "SOURCE", "TOOLS", "INSTALLED", "DIR"}}
	for _, in := range list {
		vw.rows = append(vw.rows, []string{version.Plain(in.Version), string(in.Source), strings.Join(in.Tools, ","), in.InstalledAt.Format("2006-01-02 15:04"), in.Dir})
	}
	return vw
}
