#!/usr/bin/env bash
# Builds versitygw, the S3-compatible server the S3 store's tests run
# against, from the Go module proxy, once per version, into etcdpilot's
# cache (<cache>/tools/versitygw-VERSION/versitygw).
set -euo pipefail
version=${VERSITYGW_VERSION:-v1.8.0}
cache=${ETCDPILOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/etcdpilot}
dir="$cache/tools/versitygw-$version"
if [ -x "$dir/versitygw" ]; then
	echo "versitygw $version in $dir"
	exit 0
fi
mkdir -p "$dir.tmp"
echo "building versitygw $version from the Go module proxy (about 80 s)"
CGO_ENABLED=0 GOBIN="$(cd "$dir.tmp" && pwd)" go install "github.com/versity/versitygw/cmd/versitygw@$version"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "versitygw $version in $dir"
