#!/usr/bin/env bash
# Peak memory and time of `resilinet synth` for 10^7 cells (target: peak RSS below 256 MB, i.e.
# memory that does not grow with the region). A benchmark, not a test; the shards are deleted.
#
#   bench/run_synth_bench.sh [BUILD_DIR]         (default: build-loader next to this folder)
#   env: CELLS (10000000), DATA_DIR (scratch folder), SYNTH_ARGS (extra arguments for synth)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-loader}
cells=${CELLS:-10000000}
data=${DATA_DIR:-${TMPDIR:-/tmp}/resilinet-synth-bench}
bin=$build/resilinet
[[ -x $bin ]] || { echo "missing $bin: build the resilinet target" >&2; exit 1; }

rm -rf "$data"
mkdir -p "$data"
trap 'rm -rf "$data"' EXIT
# shellcheck disable=SC2206
cmd=("$bin" synth --cells "$cells" --out "$data/shards" ${SYNTH_ARGS:-})
echo "command: ${cmd[*]#"$build/"}"
echo "machine: $(uname -m), $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -v "${cmd[@]}" >"$data/out.log" 2>"$data/time.log" || { cat "$data/out.log" "$data/time.log" >&2; exit 1; }
  peak_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$data/time.log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$data/time.log")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$data/time.log")
  echo "measured with /usr/bin/time -v"
else
  # Without GNU time (package `time`): poll the process's own high-water mark (VmHWM) until it exits.
  start=$(date +%s.%N)
  "${cmd[@]}" >"$data/out.log" 2>&1 &
  pid=$!
  peak_kb=0
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $hwm && $hwm -gt $peak_kb ]] && peak_kb=$hwm
    sleep 0.05
  done
  wait "$pid" || { cat "$data/out.log" >&2; exit 1; }
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }')
  cpu="n/a"
  echo "measured by polling VmHWM (/usr/bin/time missing: the Debian package 'time' provides it)"
fi

bytes=$(find "$data/shards" -name '*.h5' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
shards=$(find "$data/shards" -name '*.h5' | wc -l)
echo "output: $shards shards, $bytes bytes"
echo "wall: $wall   cpu (user+sys): $cpu s"
awk -v kb="$peak_kb" -v n="$cells" 'BEGIN {
  printf "peak RSS: %.1f MiB (%d kB)  target < 256 MiB: %s\n", kb / 1024, kb, (kb / 1024 < 256 ? "met" : "NOT met")
  printf "cells: %d\n", n
}'
