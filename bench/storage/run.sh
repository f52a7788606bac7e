#!/usr/bin/env bash
# storage-exporter benchmark: one full walk of a generated tree of FILES
# (default 1,000,000) files, warm cache, side by side with GNU `du -s` in the
# same run: wall time and CPU (user + sys) of each, RUNS times, alternating.
# It also checks that the figures are exact: apparent bytes = `du -sb`,
# allocated = `du -s -B1`, files = the generator's count, on a tree with hard
# links, sparse files, symlink loops and a chmod 000 directory (both tools
# run as nobody when this script runs as root, so that directory really is
# unreadable).
#
# Then, when perf is installed, PERF_RUNS (default 5) more runs of each,
# alternating, under `perf stat` (task-clock = user + sys CPU, context
# switches), a control (du on two halves of the tree one after the other on
# one CPU, then at once on two, and the exporter held to one CPU: what using
# both cores costs du itself), and the latency of SCRAPES (default 100)
# scrapes of the daemon while it walks the tree back to back, next to the
# same daemon idle.
#
#   bench/storage/run.sh                 # 1,000,000 files, 3 runs each
#   FILES=100000 RUNS=5 PERF_RUNS=9 bench/storage/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
FILES=${FILES:-1000000}
RUNS=${RUNS:-3}
PERF_RUNS=${PERF_RUNS:-5}
SCRAPES=${SCRAPES:-100}
PORT=${PORT:-19843}

work=$(mktemp -d /tmp/outrigger-storage-bench.XXXXXX)
chmod 755 "$work"
daemon=
cleanup() {
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; fi
  chmod -R u+rwx "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building storage-exporter and the tree generator"
mkdir -p bin
(cd exporters/storage &&
  CGO_ENABLED=0 go build -trimpath -o "$repo/bin/storage-exporter" ./cmd/storage-exporter &&
  go build -o "$work/gentree" ./internal/treegen/gentree)
exporter=$repo/bin/storage-exporter

tree=$work/tree
mkdir "$tree"
echo "generating $FILES files under $tree"
gen_start=$(date +%s.%N)
"$work/gentree" -dir "$tree" -files "$FILES" >"$work/manifest.json"
gen_end=$(date +%s.%N)
files=$(sed -n 's/.*"files":\([0-9]*\).*/\1/p' "$work/manifest.json")
dirs=$(sed -n 's/.*"dirs":\([0-9]*\).*/\1/p' "$work/manifest.json")
locked=$(sed -n 's/.*"locked":"\([^"]*\)".*/\1/p' "$work/manifest.json")
chmod 000 "$locked"
printf 'generated %s files in %s directories in %.1f s\n' "$files" "$dirs" "$(echo "$gen_end - $gen_start" | bc)"

# As root, both tools run as nobody: root would read the chmod 000 directory.
as=()
if [ "$(id -u)" -eq 0 ]; then
  as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

# run_timed NAME CMD...: runs CMD under /usr/bin/time, keeps stdout in
# $work/NAME.out and appends "wall user sys" to $work/NAME.times.
run_timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" "${as[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" || true
  tail -n1 "$work/$name.time" >>"$work/$name.times"
}
ours=("$exporter" --once "--path=bench=$tree" --log.level=warn)

echo "warming the cache"
"${as[@]}" du -s "$tree" >/dev/null 2>&1 || true
"${as[@]}" "${ours[@]}" >/dev/null

for i in $(seq "$RUNS"); do
  run_timed du du -s "$tree"
  run_timed ours "${ours[@]}"
done

metric() { sed -n "s/^$1{path=\"bench\"} //p" "$work/ours.out" | awk '{printf "%.0f", $1}'; }
du_sb=$("${as[@]}" du -sb "$tree" 2>/dev/null | cut -f1 || true)
du_b1=$("${as[@]}" du -s -B1 "$tree" 2>/dev/null | cut -f1 || true)
ours_sb=$(metric storage_path_apparent_bytes)
ours_b1=$(metric storage_path_allocated_bytes)
ours_files=$(metric storage_path_files)
ours_unreadable=$(metric storage_walk_unreadable_directories)
walk_s=$(sed -n 's/^storage_walk_duration_seconds{path="bench"} //p' "$work/ours.out")
want_files=$((files - 2)) # the two files inside the locked directory

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
summary() { # NAME -> "wall cpu" medians
  local wall cpu
  wall=$(awk '{print $1}' "$work/$1.times" | median)
  cpu=$(awk '{print $2 + $3}' "$work/$1.times" | median)
  echo "$wall $cpu"
}

echo
echo "## full walk of $files files / $dirs directories, warm cache, $(nproc) cores, $RUNS runs each"
printf '%-34s %4s %8s %8s %8s %8s\n' tool run wall_s user_s sys_s cpu_s
for name in du ours; do
  label="GNU du -s ($(du --version | head -1 | awk '{print $NF}'))"
  [ "$name" = ours ] && label="storage-exporter --once"
  n=0
  while read -r wall user sys; do
    n=$((n + 1))
    printf '%-34s %4d %8.2f %8.2f %8.2f %8.2f\n' "$label" "$n" "$wall" "$user" "$sys" "$(echo "$user + $sys" | bc)"
  done <"$work/$name.times"
done
read -r du_wall du_cpu <<<"$(summary du)"
read -r our_wall our_cpu <<<"$(summary ours)"
echo
printf 'median wall: du %.2f s, storage-exporter %.2f s (%.2fx du; the walk itself %.2f s)\n' \
  "$du_wall" "$our_wall" "$(echo "scale=4; $du_wall / $our_wall" | bc)" "$walk_s"
printf 'median CPU:  du %.2f s, storage-exporter %.2f s (%.2fx du)\n' \
  "$du_cpu" "$our_cpu" "$(echo "scale=4; $our_cpu / $du_cpu" | bc)"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"

if command -v perf >/dev/null; then
  # perf_stat NAME CMD...: appends "task-clock-ms context-switches" to $work/NAME.perf
  perf_stat() {
    local name=$1
    shift
    perf stat -x, -e task-clock,context-switches -o "$work/perf.tmp" "${as[@]}" "$@" >/dev/null 2>&1 || true
    awk -F, '/task-clock/{tc=$1} /context-switches/{cs=$1} END{print tc, cs}' "$work/perf.tmp" >>"$work/$name.perf"
  }
  for i in $(seq "$PERF_RUNS"); do
    perf_stat du du -s "$tree"
    perf_stat ours "${ours[@]}"
  done
  du_tc=$(awk '{print $1}' "$work/du.perf" | median)
  our_tc=$(awk '{print $1}' "$work/ours.perf" | median)
  echo
  echo "## perf stat, $PERF_RUNS runs each, alternating (medians)"
  printf '%-34s %12s %18s\n' tool task_clock_ms context_switches
  printf '%-34s %12.0f %18s\n' "GNU du -s" "$du_tc" "$(awk '{print $2}' "$work/du.perf" | median)"
  printf '%-34s %12.0f %18s\n' "storage-exporter --once" "$our_tc" "$(awk '{print $2}' "$work/ours.perf" | median)"
  printf 'CPU: storage-exporter %.2fx du (task-clock of each run: du %s; ours %s)\n' \
    "$(echo "scale=4; $our_tc / $du_tc" | bc)" "$(awk '{printf "%.0f ", $1}' "$work/du.perf")" \
    "$(awk '{printf "%.0f ", $1}' "$work/ours.perf")"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# The control: what using both cores costs du itself. The tree's top-level
# directories are split in two halves; du -s runs on each, one after the other
# on one CPU, then both at once on the two CPUs (PERF_RUNS times each,
# alternating). The CPU the two add up to is the same work either way, so the
# difference is what two CPUs running the same kernel paths at once cost.
if command -v perf >/dev/null && [ "$(nproc)" -ge 2 ]; then
  (cd "$tree" && ls -d d* | awk 'NR % 2') >"$work/half.a"
  (cd "$tree" && ls -d d* | awk '!(NR % 2)') >"$work/half.b"
  halves() { # MODE: seq or par; prints the task-clock of both halves, summed
    cd "$tree"
    if [ "$1" = seq ]; then
      perf stat -x, -e task-clock -o "$work/h.a" "${as[@]}" taskset -c 0 du -s $(cat "$work/half.a") >/dev/null 2>&1 || true
      perf stat -x, -e task-clock -o "$work/h.b" "${as[@]}" taskset -c 0 du -s $(cat "$work/half.b") >/dev/null 2>&1 || true
    else
      perf stat -x, -e task-clock -o "$work/h.a" "${as[@]}" taskset -c 0 du -s $(cat "$work/half.a") >/dev/null 2>&1 &
      perf stat -x, -e task-clock -o "$work/h.b" "${as[@]}" taskset -c 1 du -s $(cat "$work/half.b") >/dev/null 2>&1 || true
      wait
    fi
    cd "$repo"
    cat "$work/h.a" "$work/h.b" | awk -F, '/task-clock/{s += $1} END{print s}'
  }
  for i in $(seq "$PERF_RUNS"); do
    halves seq >>"$work/seq.perf"
    halves par >>"$work/par.perf"
    perf stat -x, -e task-clock -o "$work/perf.tmp" "${as[@]}" taskset -c 1 "${ours[@]}" >/dev/null 2>&1 || true
    awk -F, '/task-clock/{print $1}' "$work/perf.tmp" >>"$work/one.perf"
  done
  seq_tc=$(median <"$work/seq.perf")
  par_tc=$(median <"$work/par.perf")
  echo
  echo "## control: what two CPUs at once cost du itself (perf stat, $PERF_RUNS runs each, medians)"
  printf '%-52s %12.0f ms\n' "du -s on two halves, one after the other, one CPU" "$seq_tc"
  printf '%-52s %12.0f ms\n' "du -s on two halves at once, one CPU each" "$par_tc"
  printf '%-52s %12.0f ms\n' "storage-exporter --once held to one CPU" "$(median <"$work/one.perf")"
  printf 'du pays %.2fx the CPU for the same work on two CPUs at once\n' "$(echo "scale=4; $par_tc / $seq_tc" | bc)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# scrape_latency DIR: starts the daemon on DIR walking back to back, scrapes
# it SCRAPES times, prints "p50 p90 p99 max" in ms.
scrape_latency() {
  "${as[@]}" "$exporter" "--web.listen-address=127.0.0.1:$PORT" --walk.interval=1s "--path=bench=$1" \
    --log.level=warn >/dev/null 2>&1 &
  daemon=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && break
    sleep 0.1
  done
  sleep 2 # past the first walk's start: walks now run back to back
  for _ in $(seq "$SCRAPES"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/metrics"
    sleep "0.0$((RANDOM % 9 + 1))"
  done >"$work/latency"
  kill "$daemon"
  wait "$daemon" 2>/dev/null || true
  daemon=
  sort -n "$work/latency" | awk '{a[NR]=$1*1000} END {printf "%.1f %.1f %.1f %.1f", a[int(NR*0.5)], a[int(NR*0.9)], a[int(NR*0.99)], a[NR]}'
}
if command -v curl >/dev/null; then
  mkdir -p "$work/empty"
  echo
  echo "## scrape latency (curl time_total, $SCRAPES scrapes, ms)"
  printf '%-34s %7s %7s %7s %7s\n' daemon p50 p90 p99 max
  printf '%-34s %7s %7s %7s %7s\n' "idle (empty tree)" $(scrape_latency "$work/empty")
  printf '%-34s %7s %7s %7s %7s\n' "walking the tree back to back" $(scrape_latency "$tree")
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

echo
echo "## exactness (as ${as[*]:-$(id -un)})"
fail=0
check() { # what ours want
  if [ "$2" = "$3" ]; then
    printf '  ok    %-40s %s\n' "$1" "$2"
  else
    printf '  FAIL  %-40s ours %s, want %s\n' "$1" "$2" "$3"
    fail=1
  fi
}
check "apparent bytes = du -sb" "$ours_sb" "$du_sb"
check "allocated bytes = du -s -B1" "$ours_b1" "$du_b1"
check "files = generated - locked" "$ours_files" "$want_files"
check "unreadable directories" "$ours_unreadable" 1
exit $fail
