#!/usr/bin/env bash
# The resident memory an exporter starts from, before it talks to anything:
# do-nothing daemons from internal/promkit/floor (net/http alone; plus
# client_golang's Go and process collectors; plus the kingpin flags and
# exporter-toolkit server every Outrigger daemon is required to use; and
# promkit's server with no collectors), built
# like the exporters (static, stripped), each scraped SCRAPES times, then
# RSS read from /proc (anonymous and file-backed: the binary's own pages)
# and the CPU time (user+system) per scrape.
# bench/redis/run.sh and bench/postgres/run.sh call it to set their RSS
# figures beside this floor.
#
# Usage: bench/floor/run.sh            (SCRAPES=200 by default)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SCRAPES=${SCRAPES:-200}
work=$(mktemp -d /tmp/outrigger-bench-floor.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

echo "| floor daemon (no target, own metrics only) | binary MiB | RSS MiB | anon MiB | file MiB | CPU ms/scrape |"
echo "|---|---:|---:|---:|---:|---:|"
for name in nethttp client toolkit promkit; do
  (cd "$root/internal/promkit" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/$name" "./floor/$name")
  port=$(freeport)
  case $name in
    toolkit | promkit) "$work/$name" --web.listen-address "127.0.0.1:$port" 2>"$work/$name.log" & ;;
    *) "$work/$name" "127.0.0.1:$port" 2>"$work/$name.log" & ;;
  esac
  pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.05; done
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  for _ in $(seq "$SCRAPES"); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics"; done
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v name="$name" -v size="$(stat -c %s "$work/$name")" -v rss="$(kib "$pid" VmRSS)" -v anon="$(kib "$pid" RssAnon)" \
    -v file="$(kib "$pid" RssFile)" -v ms="$(( (t1 - t0) * 1000 / $(getconf CLK_TCK) ))" -v n="$SCRAPES" 'BEGIN {
      d["nethttp"] = "net/http alone"; d["client"] = "+ client_golang, Go and process collectors"
      d["toolkit"] = "+ kingpin, promslog, exporter-toolkit (TLS, basic auth)"
      d["promkit"] = "promkit server, no collectors (its own process collector)"
      printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f |\n", d[name], size / 1048576, rss / 1024, anon / 1024, file / 1024, ms / n }'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
