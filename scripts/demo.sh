#!/usr/bin/env bash
# `make demo`: throwaway services plus every daemon built so far; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo's Loki is the one the tests use, built once into the cache.
OUTRIGGER_LOKI=$(scripts/loki.sh)
export OUTRIGGER_LOKI
(cd internal/testkit && go build -o ../../bin/.outrigger-demo ./cmd/outrigger-demo)
exec bin/.outrigger-demo -root "$PWD"
