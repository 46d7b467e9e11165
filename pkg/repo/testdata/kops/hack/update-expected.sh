#!/usr/bin/env bash
# Regenerates the expected output of the golden tests.
set -o errexit
set -o nounset
set -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
HACK_UPDATE_EXPECTED_IN_PLACE=1 go test ./... >/dev/null || true
