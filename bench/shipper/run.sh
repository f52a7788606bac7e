#!/usr/bin/env bash
# Benchmarks the log shipper: JSON files -> log-shipper -> an Elasticsearch
# bulk receiver and a Loki receiver on loopback (counting only). Prints
# lines/s, MiB/s, lines per CPU-second of the shipper, its peak RSS,
# end-to-end p99 at a steady 20,000 lines/s, and peak RSS while 1 GiB piles
# up with Loki down.
# Knobs: ES_LINES (default 1000000), LINES (1000000), RATE (20000), STEADY (20s),
# PILE (bytes, 1073741824; 0 skips), ONLY (loki or elasticsearch), SCENARIOS
# (comma-separated SIZExFILES Loki throughput runs, e.g. 1024x16: only those),
# VERIFY=1 (the Loki receiver checks every line: content, time, order, once),
# BASELINE=<git-ref> (log-shipper is also built from that ref, in a temporary
# git worktree, and every scenario runs it right after the current build,
# followed by the ratio current/baseline).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BASELINE=${BASELINE:-}
work=$(mktemp -d /tmp/shipper-bench-XXXXXX)
cleanup() {
  if [ -d "$work/baseline-src" ]; then git -C "$root" worktree remove --force "$work/baseline-src" || true; fi
  rm -rf "$work"
  git -C "$root" worktree prune 2>/dev/null || true
}
trap cleanup EXIT
cd "$root/shipper"
CGO_ENABLED=0 go build -trimpath -o "$work/log-shipper" ./cmd/log-shipper
go build -o "$work/shipper-bench" ./internal/cmd/shipper-bench
baseline=()
if [ -n "$BASELINE" ]; then
  rev=$(git -C "$root" rev-parse --short "$BASELINE^{commit}")
  echo "building log-shipper from $BASELINE ($rev)"
  git -C "$root" worktree add --detach "$work/baseline-src" "$rev" >/dev/null
  (cd "$work/baseline-src/shipper" && CGO_ENABLED=0 go build -trimpath -o "$work/log-shipper-baseline" ./cmd/log-shipper)
  baseline=(-baseline "$work/log-shipper-baseline")
fi
echo "log-shipper benchmark on $(nproc) cores, $(date -u +%Y-%m-%d)${BASELINE:+, against $BASELINE ($rev) as [baseline]}"
"$work/shipper-bench" -binary "$work/log-shipper" "${baseline[@]}" -dir "$work/run" -only "${ONLY:-}" -es-lines "${ES_LINES:-1000000}" \
  -lines "${LINES:-1000000}" -rate "${RATE:-20000}" -steady "${STEADY:-20s}" -pile "${PILE:-1073741824}" \
  -scenarios "${SCENARIOS:-}" -verify="${VERIFY:-0}"
