#!/usr/bin/env bash
# Installs the Debian packages the tests run for real, once per machine:
# dpkg-deb (etcd 3.4.23 comes from Debian's etcd-server package) and
# OpenSSH's server and client (the command runtime's hooks over SSH).
set -euo pipefail
need=""
for tool in dpkg-deb sshd ssh ssh-keygen; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || need="$need $tool"
done
[ -z "$need" ] && exit 0
echo "installing Debian packages for:$need"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends dpkg openssh-server openssh-client >/dev/null
