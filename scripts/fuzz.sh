#!/usr/bin/env bash
# Runs every Fuzz target in every module briefly (FUZZTIME, default 3s each).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
count=0
for mod in $(scripts/modules.sh); do
  while IFS= read -r file; do
    dir=$(dirname "$file")
    for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
      echo "fuzz: $dir $fn ($fuzztime)"
      (cd "$dir" && go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" -parallel=2 .) 
      count=$((count+1))
    done
  done < <(grep -rl --include='*_test.go' '^func Fuzz' "$mod" || true)
done
echo "fuzz: $count targets ran"
