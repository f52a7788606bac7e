#!/usr/bin/env bash
# Benchmarks the log shipper: JSON files -> log-shipper -> an Elasticsearch
# bulk receiver and a Loki receiver on loopback (counting only). Prints
# lines/s, MiB/s, lines per CPU-second of the shipper, its peak RSS,
# end-to-end p99 at a steady 20,000 lines/s, and peak RSS while 1 GiB piles
# up with Loki down.
# Knobs: ES_LINES (default 1000000), LINES (1000000), RATE (20000), STEADY (20s),
# PILE (bytes, 1073741824; 0 skips), ONLY (loki or elasticsearch), SCENARIOS
# (comma-separated SIZExFILES Loki throughput runs, e.g. 1024x16: only those),
# VERIFY=1 (the Loki receiver checks every line: content, time, order, once).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/shipper-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$root/shipper"
CGO_ENABLED=0 go build -trimpath -o "$work/log-shipper" ./cmd/log-shipper
go build -o "$work/shipper-bench" ./internal/cmd/shipper-bench
echo "log-shipper benchmark on $(nproc) cores, $(date -u +%Y-%m-%d)"
"$work/shipper-bench" -binary "$work/log-shipper" -dir "$work/run" -only "${ONLY:-}" -es-lines "${ES_LINES:-1000000}" \
  -lines "${LINES:-1000000}" -rate "${RATE:-20000}" -steady "${STEADY:-20s}" -pile "${PILE:-1073741824}" \
  -scenarios "${SCENARIOS:-}" -verify="${VERIFY:-0}"
