#!/usr/bin/env bash
# Builds kube-apiserver, kubelet, kube-controller-manager and kube-scheduler
# from the Go module proxy, once per version, into etcdpilot's cache
# (<cache>/tools/kubernetes-VERSION/), for the static-pod runtime's tests (a
# standalone kubelet runs etcd members as static pods, a kube-apiserver runs
# on top of the cluster) and the deploy tests (a one-node control plane
# schedules the agent's Deployment and the backup CronJob's Jobs).
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging
# modules with local paths), so a throwaway module requires it and replaces
# every staging module with its published version (v0.MINOR.PATCH).
set -euo pipefail
version=${KUBERNETES_VERSION:-v1.35.4}
cache=${ETCDPILOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/etcdpilot}
dir="$cache/tools/kubernetes-$version"
cmds="kube-apiserver kubelet kube-controller-manager kube-scheduler"
# CNI's loopback plugin: the deploy tests' node reports its network ready
# with it (their pods use the host network).
cni=v1.9.1
have=1
for cmd in $cmds cni-loopback; do [ -x "$dir/$cmd" ] || have=0; done
if [ "$have" = 1 ]; then
	echo "$cmds $version in $dir"
	exit 0
fi
staging="v0.${version#v1.}"
minor=$(echo "$version" | cut -d. -f2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
	echo "module kubebuild"
	echo "go 1.25"
	echo "require k8s.io/kubernetes $version"
	echo "replace ("
	awk '/^replace \(/{f=1;next} f&&/^\)/{f=0} f&&/=> \.\/staging/{print $1}' "$gomod" |
		while read -r m; do echo "	$m => $m $staging"; done
	echo ")"
} >go.mod
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
echo "building $cmds $version from the Go module proxy (about 8 minutes cold)"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
mkdir -p "$dir.tmp"
for cmd in $cmds; do
	CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ldflags" -o "$dir.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
GOBIN="$work/cni" CGO_ENABLED=0 GOFLAGS= go install -trimpath "github.com/containernetworking/plugins/plugins/main/loopback@$cni"
mv "$work/cni/loopback" "$dir.tmp/cni-loopback"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$cmds $version in $dir"
