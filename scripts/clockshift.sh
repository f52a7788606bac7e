#!/usr/bin/env bash
# Runs the given packages' tests once more with every test clock moved ahead
# (testkit.Now and the fakes honour OUTRIGGER_TEST_CLOCK_SHIFT), so a test that
# pairs a fixed date with a clock fails now, not on the day its date ages out
# of a window. Arguments: module:package-pattern ...; CLOCK_SKIP is a -skip
# pattern for tests whose clock is a real service's (a real Loki).
set -uo pipefail
cd "$(dirname "$0")/.."
shift_by=${CLOCKSHIFT:-8760h}
fail=0
for arg in "$@"; do
  mod=${arg%%:*} pkgs=${arg#*:}
  echo "=== $mod (clock ahead by $shift_by)"
  (cd "$mod" && OUTRIGGER_TEST_CLOCK_SHIFT=$shift_by go test -count=1 -timeout 15m ${CLOCK_SKIP:+-skip "$CLOCK_SKIP"} $pkgs) || fail=1
done
exit $fail
