#!/usr/bin/env bash
# Side-by-side benchmark: outrigger's postgres-exporter against Debian's
# prometheus-postgres-exporter (postgres_exporter 0.11.1) on one PostgreSQL
# server with 20 databases x 100 tables and 100 client connections (pgbench,
# select-only, rate-limited). Scrapes alternate between the two exporters.
# Prints CPU per scrape, RSS, scrape latency p50/p99, queries per scrape
# (pg_stat_statements calls of each exporter's own role) and series count.
# With BASELINE=<git-ref>, postgres-exporter is also built from that ref (in a
# temporary git worktree) and scraped in the same rounds, with the ratio of
# CPU per scrape current/baseline: a change compared with its previous commit
# in one run.
#
# Usage: [BASELINE=<git-ref>] bench/postgres/run.sh [SCRAPES]   (default 200; run as root)
set -euo pipefail
SCRAPES=${1:-${SCRAPES:-200}}
DBS=${DBS:-20}
TABLES=${TABLES:-100}
CLIENTS=${CLIENTS:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
INCUMBENT=/usr/bin/prometheus-postgres-exporter
[ -x "$INCUMBENT" ] || { echo "missing $INCUMBENT: apt-get install -y prometheus-postgres-exporter" >&2; exit 1; }

WORK=$(mktemp -d /tmp/outrigger-bench-pg-XXXXXX)
chmod 755 "$WORK"
BASELINE=${BASELINE:-}
free_port() { # a port nobody listens on, with the next four free too
  while :; do
    local p=$(( 20000 + RANDOM % 30000 )) busy=0
    for q in $p $((p+1)) $((p+2)) $((p+3)) $((p+4)); do
      (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null && busy=1
    done
    [ $busy -eq 0 ] && { echo "$p"; return; }
  done
}
PORT=$(free_port)
OURS_PORT=$(( PORT + 1 )); THEIRS_PORT=$(( PORT + 2 )); LOCAL_PORT=$(( PORT + 3 )); BASE_PORT=$(( PORT + 4 ))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  if [ -d "$WORK/baseline-src" ]; then git -C "$ROOT" worktree remove --force "$WORK/baseline-src" || true; fi
  rm -rf "$WORK"
  git -C "$ROOT" worktree prune 2>/dev/null || true
}
trap cleanup EXIT

echo "building postgres-exporter"
(cd "$ROOT/exporters/postgres" && CGO_ENABLED=0 go build -trimpath -o "$WORK/postgres-exporter" ./cmd/postgres-exporter)
if [ -n "$BASELINE" ]; then
  BASE_REV=$(git -C "$ROOT" rev-parse --short "$BASELINE^{commit}")
  echo "building postgres-exporter from $BASELINE ($BASE_REV)"
  git -C "$ROOT" worktree add --detach "$WORK/baseline-src" "$BASE_REV" >/dev/null
  (cd "$WORK/baseline-src/exporters/postgres" && CGO_ENABLED=0 go build -trimpath -o "$WORK/postgres-exporter-baseline" ./cmd/postgres-exporter)
fi

echo "starting PostgreSQL on port $PORT"
chown postgres "$WORK"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
CONF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null ||
  { cat "$WORK/postgres.log" >&2; exit 1; }
psql() { command "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }

echo "creating $DBS databases x $TABLES tables"
psql -d postgres -c "CREATE EXTENSION pg_stat_statements" \
  -c "CREATE ROLE outrigger LOGIN IN ROLE pg_monitor" -c "CREATE ROLE incumbent LOGIN IN ROLE pg_monitor" \
  -c "CREATE ROLE outrigger_local LOGIN IN ROLE pg_monitor" -c "CREATE ROLE baseline LOGIN IN ROLE pg_monitor"
ddl=$(for t in $(seq 1 "$TABLES"); do echo "CREATE TABLE t$t (id serial PRIMARY KEY, v text); INSERT INTO t$t (v) SELECT 'x' FROM generate_series(1, $t);"; done)
for d in $(seq 1 "$DBS"); do
  psql -d postgres -c "CREATE DATABASE db$d"
  echo "$ddl" | psql -d "db$d" >/dev/null
done
psql -d postgres -c "ANALYZE" >/dev/null

echo "opening $CLIENTS client connections (pgbench -S, 200 tps)"
"$PGBIN/pgbench" -i -q -s 1 -h "$WORK" -p "$PORT" -U postgres db1 >/dev/null 2>&1
"$PGBIN/pgbench" -n -S -c "$CLIENTS" -j 2 -R 200 -T 100000 -h "$WORK" -p "$PORT" -U postgres db1 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  n=$(psql -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")
  [ "$n" -ge "$CLIENTS" ] && break
  sleep 0.2
done

echo "starting both exporters"
"$WORK/postgres-exporter" --web.listen-address="127.0.0.1:$OURS_PORT" --log.level=warn \
  --postgres.dsn="postgres://outrigger@127.0.0.1:$PORT/postgres?sslmode=disable" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; pids+=($OURS_PID)
# The same, reading tables of the DSN's database only, as postgres_exporter does.
"$WORK/postgres-exporter" --web.listen-address="127.0.0.1:$LOCAL_PORT" --log.level=warn --no-collector.databases \
  --postgres.dsn="postgres://outrigger_local@127.0.0.1:$PORT/postgres?sslmode=disable" >"$WORK/local.log" 2>&1 &
LOCAL_PID=$!; pids+=($LOCAL_PID)
DATA_SOURCE_NAME="postgresql://incumbent@127.0.0.1:$PORT/postgres?sslmode=disable" \
  "$INCUMBENT" --web.listen-address="127.0.0.1:$THEIRS_PORT" --log.level=warn >"$WORK/theirs.log" 2>&1 &
THEIRS_PID=$!; pids+=($THEIRS_PID)
# The same as the first, built from BASELINE, under a role of its own.
BASE_PID=
if [ -n "$BASELINE" ]; then
  "$WORK/postgres-exporter-baseline" --web.listen-address="127.0.0.1:$BASE_PORT" --log.level=warn \
    --postgres.dsn="postgres://baseline@127.0.0.1:$PORT/postgres?sslmode=disable" >"$WORK/baseline.log" 2>&1 &
  BASE_PID=$!; pids+=($BASE_PID)
fi
scraped_ports() { echo "$OURS_PORT" ${BASE_PID:+"$BASE_PORT"}; }
for p in $(scraped_ports); do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/health" -o /dev/null && break; sleep 0.1; done
done
for p in $LOCAL_PORT $THEIRS_PORT; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/metrics" -o /dev/null && break; sleep 0.1; done
done
# One cold scrape each (ours reads every database's tables on it), then warm-up.
cold_ours=$(curl -s -o /dev/null -w '%{time_total}' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$OURS_PORT/metrics")
[ -z "$BASE_PID" ] || curl -s -o /dev/null -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$BASE_PORT/metrics"
for _ in 1 2 3; do
  for p in $(scraped_ports) $LOCAL_PORT $THEIRS_PORT; do curl -s -o /dev/null "http://127.0.0.1:$p/metrics"; done
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
calls() { psql -d postgres -c "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"; }
psql -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
cpu0_ours=$(cpu $OURS_PID); cpu0_theirs=$(cpu $THEIRS_PID); cpu0_local=$(cpu $LOCAL_PID)
[ -z "$BASE_PID" ] || cpu0_base=$(cpu $BASE_PID)
: >"$WORK/lat_ours"; : >"$WORK/lat_theirs"; : >"$WORK/lat_local"; : >"$WORK/lat_base"
echo "scraping each exporter $SCRAPES times, alternating"
for _ in $(seq 1 "$SCRAPES"); do
  curl -s -o "$WORK/body_ours" -w '%{time_total}\n' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$OURS_PORT/metrics" >>"$WORK/lat_ours"
  if [ -n "$BASE_PID" ]; then
    curl -s -o "$WORK/body_base" -w '%{time_total}\n' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$BASE_PORT/metrics" >>"$WORK/lat_base"
  fi
  curl -s -o "$WORK/body_local" -w '%{time_total}\n' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$LOCAL_PORT/metrics" >>"$WORK/lat_local"
  curl -s -o "$WORK/body_theirs" -w '%{time_total}\n' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://127.0.0.1:$THEIRS_PORT/metrics" >>"$WORK/lat_theirs"
done
cpu1_ours=$(cpu $OURS_PID); cpu1_theirs=$(cpu $THEIRS_PID); cpu1_local=$(cpu $LOCAL_PID)
q_ours=$(calls outrigger); q_theirs=$(calls incumbent); q_local=$(calls outrigger_local)
if [ -n "$BASE_PID" ]; then cpu1_base=$(cpu $BASE_PID); q_base=$(calls baseline); fi
tck=$(getconf CLK_TCK)

pct() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; if (i>NR) i=NR; printf "%.1f", a[i]*1000}'; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
series() { grep -vc '^#' "$1"; }
pool() { grep -c '^pg_connections{' "$1" || true; }
calc() { awk "BEGIN { printf \"%.4f\", $1 }"; }
row() { # name pid cpu0 cpu1 lat body queries
  printf "| %-28s | %9.2f | %8s | %8s | %7s | %7s | %9.1f | %7s | %10s |\n" "$1" \
    "$(calc "($4 - $3) * 1000 / $tck / $SCRAPES")" "$(rss "$2")" "$(hwm "$2")" \
    "$(pct "$5" 50)" "$(pct "$5" 99)" "$(calc "$7 / $SCRAPES")" "$(series "$6")" "$(pool "$6")"
}
echo
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $DBS databases x $TABLES tables, $CLIENTS pgbench clients, $SCRAPES scrapes each, $(nproc) CPUs"
echo "| exporter                     | CPU ms/scrape | RSS MiB | peak MiB | p50 ms | p99 ms | queries/scrape | series | pool series |"
echo "|------------------------------|-----------|----------|----------|---------|---------|-----------|---------|------------|"
row "outrigger postgres-exporter" $OURS_PID "$cpu0_ours" "$cpu1_ours" "$WORK/lat_ours" "$WORK/body_ours" "$q_ours"
if [ -n "$BASE_PID" ]; then row "outrigger at $BASE_REV (BASELINE)" $BASE_PID "$cpu0_base" "$cpu1_base" "$WORK/lat_base" "$WORK/body_base" "$q_base"; fi
row "outrigger, DSN database only" $LOCAL_PID "$cpu0_local" "$cpu1_local" "$WORK/lat_local" "$WORK/body_local" "$q_local"
row "postgres_exporter 0.11.1" $THEIRS_PID "$cpu0_theirs" "$cpu1_theirs" "$WORK/lat_theirs" "$WORK/body_theirs" "$q_theirs"
if [ -n "$BASE_PID" ]; then
  echo
  echo "CPU per scrape, current / baseline $BASELINE ($BASE_REV): $(awk -v a=$((cpu1_ours - cpu0_ours)) -v b=$((cpu1_base - cpu0_base)) 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }') ($((cpu1_ours - cpu0_ours)) vs $((cpu1_base - cpu0_base)) ticks over $SCRAPES scrapes each)"
fi
echo
echo "outrigger's first (cold) scrape, reading all $DBS databases: $(awk "BEGIN { printf \"%.0f\", $cold_ours * 1000 }") ms"
echo "backends per exporter at the end: outrigger $(psql -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'outrigger'"), outrigger (DSN only) $(psql -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'outrigger_local'"), incumbent $(psql -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'incumbent'")"
echo
echo "outrigger collector durations on the last scrape (ms):"
grep '^pg_scrape_collector_duration_seconds' "$WORK/body_ours" | sed -E 's/.*collector="([^"]+)"} (.*)/\1 \2/' |
  awk '{ printf "  %-16s %6.1f\n", $1, $2 * 1000 }'
echo
echo "The floor any exporter on the required libraries starts from (bench/floor/run.sh):"
SCRAPES=$SCRAPES "$ROOT/bench/floor/run.sh"
