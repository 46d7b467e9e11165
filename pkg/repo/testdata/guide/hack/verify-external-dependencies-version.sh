#!/usr/bin/env bash
# Checks build/dependencies.yaml with zeitgeist.
go run sigs.k8s.io/zeitgeist@v0.5.4 validate --local-only --base-path "${KUBE_ROOT}" --config "${KUBE_ROOT}"/build/dependencies.yaml
