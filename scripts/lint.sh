#!/usr/bin/env bash
# gofmt, go vet, staticcheck (pinned in internal/tools) and go mod tidy drift,
# over every module in go.work.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; fail=1
fi
for mod in $(scripts/modules.sh); do
  # A module with no Go code yet has nothing to lint.
  [ -n "$(find "$mod" -name '*.go' -print -quit)" ] || continue
  ( cd "$mod"
    go vet ./... || exit 1
    # staticcheck is pinned by the tool directive of internal/tools (in go.work).
    go tool staticcheck ./... || exit 1
    if ! GOWORK=off GOFLAGS=-mod=mod go mod tidy -diff >/tmp/tidy.$$ 2>&1; then
      echo "$mod: go.mod/go.sum are not tidy; run 'cd $mod && GOWORK=off go mod tidy':"; cat /tmp/tidy.$$; exit 1
    fi
  ) || { echo "lint: $mod has problems (above)"; fail=1; }
done
rm -f /tmp/tidy.$$
[ $fail -eq 0 ] && echo "lint: clean"
exit $fail
