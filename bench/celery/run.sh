#!/usr/bin/env bash
# celery-exporter throughput: 1,000,000 task events (task-sent plus task.multi
# batches, as a prefork worker sends them) published through a real Redis,
# consumed by bin/celery-exporter limited to one core (GOMAXPROCS=1, and
# pinned to CPU 0 with taskset when available). Prints events lost, events per
# CPU-second of the exporter and its peak RSS. EVENTS=... overrides the count.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
events=${EVENTS:-1000000}
make build >/dev/null
wrapper=$(mktemp /tmp/celery-exporter-bench.XXXXXX)
trap 'rm -f "$wrapper"' EXIT
if command -v taskset >/dev/null; then
  printf '#!/bin/sh\nexec taskset -c 0 %s "$@"\n' "$root/bin/celery-exporter" >"$wrapper"
else
  printf '#!/bin/sh\nexec %s "$@"\n' "$root/bin/celery-exporter" >"$wrapper"
fi
chmod +x "$wrapper"
echo "celery-exporter: ${events} task events through Redis pub/sub, exporter on one core"
cd exporters/celery
CELERY_EXPORTER_BIN="$wrapper" CELERY_BENCH_EVENTS="$events" \
  go test -count=1 -run '^TestThroughputNoEventsLost$' -timeout 20m -v ./cmd/celery-exporter \
  | grep -E '^\||^(ok|FAIL|---)'
