#!/usr/bin/env bash
# Builds a real Loki (single binary) once per machine from the Go module proxy
# into a cache outside the repository, keyed by version, the way a Debian
# package would be installed: nothing of Loki's source is kept in the repo.
# Prints the binary's path. The first build takes about 8-10 minutes on two
# cores; later runs find the cached binary at once.
#   LOKI_VERSION  the module version (default v3.7.6: v3.6.x's module graph
#                 holds a pseudo-version the proxy refuses)
#   OUTRIGGER_CACHE  the cache directory (default ~/.cache/outrigger)
set -euo pipefail
version=${LOKI_VERSION:-v3.7.6}
cache=${OUTRIGGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/outrigger}
bin="$cache/loki-$version/loki"
if [ -x "$bin" ] && "$bin" -version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "loki.sh: Go is needed to build Loki $version (install Go 1.26)" >&2; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/loki-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
echo "loki.sh: downloading github.com/grafana/loki/v3@$version from the module proxy" >&2
if ! dir=$(cd "$work" && go mod download -json "github.com/grafana/loki/v3@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || [ -z "$dir" ]; then
  echo "loki.sh: the module proxy did not give github.com/grafana/loki/v3@$version; set LOKI_VERSION to one it serves" >&2
  exit 1
fi
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
# The nested pkg/push module is replaced by its directory in Loki's own tree,
# which the module zip does not hold: use the required version from the proxy.
sed -i '/^replace github.com\/grafana\/loki\/pkg\/push =>/d' go.mod
echo "loki.sh: building Loki $version (CGO_ENABLED=0; several minutes the first time)" >&2
go build -trimpath -o "$work/loki" ./cmd/loki
"$work/loki" -version >/dev/null
mkdir -p "$(dirname "$bin")"
mv "$work/loki" "$bin"
echo "$bin"
