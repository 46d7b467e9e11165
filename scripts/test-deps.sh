#!/usr/bin/env bash
# Installs the Debian packages the tests run for real, once per machine:
# dpkg-deb (etcd 3.4.23 comes from Debian's etcd-server package), OpenSSH's
# server and client (the command runtime's hooks over SSH), and Prometheus
# with promtool (the agent is scraped, its exposition and rules linted),
# containerd and runc (the kubelet of the static-pod tests runs on them),
# systemd (the agent's unit is verified, rated and started under a real
# systemd booted in namespaces of its own).
set -euo pipefail
need=""
for tool in dpkg-deb sshd ssh ssh-keygen prometheus promtool containerd ctr runc systemd-analyze nsenter unshare; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || need="$need $tool"
done
[ -z "$need" ] && exit 0
echo "installing Debian packages for:$need"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends dpkg openssh-server openssh-client prometheus containerd runc systemd util-linux >/dev/null
# The package just installed starts a Prometheus service where there is an
# init system; the tests start their own.
if [[ "$need" == *prometheus* ]]; then
	$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if [[ "$need" == *containerd* ]]; then
	$sudo systemctl disable --now containerd >/dev/null 2>&1 || true
fi
