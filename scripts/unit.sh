#!/usr/bin/env bash
# Runs every module's tests with -race. The deploy module's full-stack test
# spends most of its five minutes waiting for alerts to hold, so it runs
# beside the other modules instead of after them.
set -uo pipefail
cd "$(dirname "$0")/.."
flags=(-race -count=1 -timeout 15m ${TESTFLAGS:-})
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd deploy && go test "${flags[@]}" ./... >"$log" 2>&1; echo $? >"$log.rc") &
bg=$!
fail=0
for m in $(scripts/modules.sh); do
  [ "$m" = deploy ] && continue
  [ -n "$(find "$m" -name '*_test.go' -print -quit)" ] || continue
  echo "=== $m"
  (cd "$m" && go test "${flags[@]}" ./...) || fail=1
done
wait $bg
echo "=== deploy"
cat "$log"
[ "$(cat "$log.rc")" = 0 ] || fail=1
rm -f "$log.rc"
exit $fail
