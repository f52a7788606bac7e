#!/usr/bin/env bash
# `make bench`: runs every component's benchmark (bench/<component>/run.sh),
# or only those named: bench/run.sh postgres redis
set -euo pipefail
cd "$(dirname "$0")"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in */run.sh; do names+=("${d%/run.sh}"); done
fi
for n in "${names[@]}"; do
  echo "=== bench/$n"
  bash "$n/run.sh"
done
