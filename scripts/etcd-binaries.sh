#!/usr/bin/env bash
# Puts every etcd version the tests use into etcdpilot's binary cache, once
# per machine: 3.5 and later from release tarballs or, where those cannot be
# downloaded, built from Go module source; 3.4.23 from Debian's etcd-server
# and etcd-client packages (3.4 has no v3 server module to build from).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ETCDPILOT:-bin/etcdpilot}
versions=${ETCD_VERSIONS:-"3.5.36 3.6.17 3.7.3 3.5.20 3.5.19"}
# Binaries go into the cache; the release catalog etcdpilot fetches on the
# way goes into a state directory of this run, not the user's (for root,
# /var/lib/etcdpilot: the agent's).
state=$(mktemp -d)
work=
trap 'rm -rf "$state" ${work:+"$work"}' EXIT
export ETCDPILOT_STATE_DIR=$state

"$bin" etcd install $versions

if ! "$bin" etcd path 3.4.23 >/dev/null 2>&1; then
	work=$(mktemp -d)
	(
		cd "$work"
		if ! apt-get download etcd-server etcd-client >/dev/null 2>&1; then
			# Fresh machines have no package lists yet.
			if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null; else sudo apt-get update -qq >/dev/null; fi
			apt-get download etcd-server etcd-client >/dev/null 2>&1
		fi
		for deb in *.deb; do dpkg-deb -x "$deb" root; done
	)
	"$bin" etcd install 3.4.23 --source dir --dir "$work/root/usr/bin"
fi
"$bin" etcd list
