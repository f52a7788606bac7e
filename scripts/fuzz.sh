#!/usr/bin/env bash
# Runs every Fuzz target in every module briefly (FUZZTIME, default 3s each).
# A target that finds a failing input fails the run (the input is saved under
# the package's testdata/fuzz, so `go test` replays it from then on).
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
count=0
failed=()
run() { # dir fn
  (cd "$1" && go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" -parallel=2 . 2>&1)
}
for mod in $(scripts/modules.sh); do
  while IFS= read -r file; do
    dir=$(dirname "$file")
    for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
      echo "fuzz: $dir $fn ($fuzztime)"
      out=$(run "$dir" "$fn"); rc=$?
      # Go's fuzzer can end with "context deadline exceeded" when fuzztime
      # runs out while a worker is busy (no failing input): run it again.
      if [ $rc -ne 0 ] && grep -q "context deadline exceeded" <<<"$out" && ! grep -q "Failing input" <<<"$out"; then
        echo "fuzz: $fn stopped at its deadline without a finding; running it again"
        out=$(run "$dir" "$fn"); rc=$?
      fi
      echo "$out" | tail -3
      [ $rc -eq 0 ] || { echo "$out"; failed+=("$dir $fn"); }
      count=$((count+1))
    done
  done < <(grep -rl --include='*_test.go' '^func Fuzz' "$mod" || true)
done
echo "fuzz: $count targets ran, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { printf 'fuzz: FAILED %s\n' "${failed[@]}"; exit 1; }
