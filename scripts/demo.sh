#!/usr/bin/env bash
# `make demo`: throwaway services plus every daemon built so far; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd internal/testkit && go build -o ../../bin/.outrigger-demo ./cmd/outrigger-demo)
exec bin/.outrigger-demo -root "$PWD"
