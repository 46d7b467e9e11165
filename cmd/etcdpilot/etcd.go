package main

import (
	"github.com/spf13/cobra"

	"github.com/etcdpilot/etcdpilot/pkg/binaries"
	"github.com/etcdpilot/etcdpilot/pkg/printer"
)

func newEtcdCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Install and find etcd, etcdctl and etcdutl binaries of any version",
	}
	cmd.AddCommand(newEtcdInstallCmd(g), newEtcdListCmd(g), newEtcdPathCmd(g))
	return cmd
}

func newEtcdInstallCmd(g *globals) *cobra.Command {
	var source, dir, mirror string
	var force bool
	cmd := &cobra.Command{
		Use:   "install VERSION...",
		Short: "Put etcd, etcdctl and etcdutl of a version into the cache",
		Long: `Install etcd binaries into the cache ($XDG_CACHE_HOME/etcdpilot, or --cache-dir).

Sources:
  release  the official release tarball from --mirror, checked against SHA256SUMS
  source   build from Go module source with the local Go toolchain (3.5 and later)
  dir      copy from --dir (for example Debian's etcd-server package: --dir /usr/bin)
  auto     release, then source`,
		Example: `  etcdpilot etcd install 3.5.36 3.6.17
  etcdpilot etcd install 3.4.23 --source dir --dir /usr/bin`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := binaries.ParseSource(source)
			if err != nil {
				return err
			}
			m := g.binaries(g.progress(cmd))
			m.Mirror = mirror
			for _, v := range args {
				in, err := m.Install(cmd.Context(), v, binaries.Options{Source: src, Dir: dir, Force: force})
				if err != nil {
					return err
				}
				if err := g.print(cmd, in); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "auto", "where to get binaries: auto, release, source or dir")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to import from with --source dir")
	cmd.Flags().StringVar(&mirror, "mirror", binaries.DefaultMirror, "base URL of release tarballs")
	cmd.Flags().BoolVar(&force, "force", false, "reinstall even when the version is cached")
	return cmd
}

func newEtcdListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the cached etcd versions",
		Example: `  etcdpilot etcd list
  etcdpilot etcd list -w json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.binaries(nil).List()
			if err != nil {
				return err
			}
			if list == nil {
				list = []*binaries.Install{}
			}
			return g.print(cmd, list)
		},
	}
}

func newEtcdPathCmd(g *globals) *cobra.Command {
	var tool string
	cmd := &cobra.Command{
		Use:   "path VERSION",
		Short: "Print the directory (or with --tool, the binary) of a cached version",
		Example: `  etcdpilot etcd path 3.6.17
  $(etcdpilot etcd path 3.6.17 --tool etcdctl) version`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := g.binaries(nil).Get(args[0])
			if err != nil {
				return err
			}
			if tool == "" {
				return g.print(cmd, printer.Value{Name: "dir", Value: in.Dir})
			}
			p, err := in.Bin(tool)
			if err != nil {
				return err
			}
			return g.print(cmd, printer.Value{Name: "path", Value: p})
		},
	}
	cmd.Flags().StringVar(&tool, "tool", "", "print the path of etcd, etcdctl or etcdutl")
	return cmd
}
