#!/usr/bin/env bash

# A set of helpers for starting/running etcd for tests

ETCD_VERSION=${ETCD_VERSION:-3.6.8}
ETCD_HOST=${ETCD_HOST:-127.0.0.1}
ETCD_PORT=${ETCD_PORT:-2379}

kube::etcd::validate() {
  command -v etcd >/dev/null || {
    kube::log::usage "etcd must be in your PATH"
    return 1
  }
}
