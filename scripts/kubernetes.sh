#!/usr/bin/env bash
# Builds kube-apiserver and kubelet from the Go module proxy, once per
# version, into etcdpilot's cache (<cache>/tools/kubernetes-VERSION/), for the
# static-pod runtime's tests: a standalone kubelet runs etcd members as
# static pods, a kube-apiserver runs on top of the cluster.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging
# modules with local paths), so a throwaway module requires it and replaces
# every staging module with its published version (v0.MINOR.PATCH).
set -euo pipefail
version=${KUBERNETES_VERSION:-v1.35.4}
cache=${ETCDPILOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/etcdpilot}
dir="$cache/tools/kubernetes-$version"
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/kubelet" ]; then
	echo "kube-apiserver and kubelet $version in $dir"
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
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
echo "building kube-apiserver and kubelet $version from the Go module proxy (about 6 minutes cold)"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
mkdir -p "$dir.tmp"
for cmd in kube-apiserver kubelet; do
	CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ldflags" -o "$dir.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "kube-apiserver and kubelet $version in $dir"
