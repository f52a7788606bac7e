#!/usr/bin/env bash
# litellm-exporter at scale: a LiteLLM_SpendLogs table of 10,000,000 rows
# (INSERT ... SELECT generate_series in a throwaway PostgreSQL started by the
# test kit). Measures, at 1/10 of the size and at full size: the exporter's
# incremental refresh after a minute of new traffic, the pages that query
# touches, scrape latency (served from the cache), and beside them the plain
# GROUP BY over the whole table that community exporters run on every scrape.
#
#   bench/litellm/run.sh                       # 10M rows, 5000 new rows a minute
#   LITELLM_BENCH_ROWS=1000000 bench/litellm/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rows=${LITELLM_BENCH_ROWS:-10000000}
fresh=${LITELLM_BENCH_NEW_ROWS:-5000}
rounds=${LITELLM_BENCH_ROUNDS:-5}
out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT

echo "building bin/litellm-exporter"
mkdir -p bin
(cd exporters/litellm-cost && CGO_ENABLED=0 go build -trimpath -o "$root/bin/litellm-exporter" ./cmd/litellm-exporter)

echo "loading $rows spend-log rows and measuring (this takes a few minutes)"
start=$(date +%s)
# The benchmark lives in the exporter's tests (small there by default); it
# starts and stops its own PostgreSQL. No -race: timings are the point.
if ! (cd exporters/litellm-cost && LITELLM_BENCH_ROWS=$rows LITELLM_BENCH_NEW_ROWS=$fresh LITELLM_BENCH_ROUNDS=$rounds \
    LITELLM_BENCH_OUT=$out go test -count=1 -timeout 90m -run '^TestSpendLogScale$' -v ./exporter >"$log" 2>&1); then
  cat "$log"
  exit 1
fi
grep -E 'loaded [0-9]+ spend-log rows' "$log" | sed 's/^ *//'
echo
echo "results ($((($(date +%s) - start))) s in all; $fresh new rows per refresh, median of $rounds refreshes, 100 scrapes, 3 GROUP BYs):"
cat "$out"
echo
echo "load average during the run (the machine may be shared): $(cut -d" " -f1-3 /proc/loadavg)"
