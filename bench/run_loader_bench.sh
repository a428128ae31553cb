#!/usr/bin/env bash
# Loader throughput against `cat` on the same page-cached, uncompressed shards, measured in one run
# (rounds alternate cat and loader so that machine load hits both). A benchmark, not a test.
#
#   bench/run_loader_bench.sh [BUILD_DIR]        (default: build-loader next to this folder)
#   env: CELLS (4000000), ROUNDS (5), DATA_DIR (a scratch folder, removed at the end unless KEEP=1)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-loader}
cells=${CELLS:-4000000}
rounds=${ROUNDS:-5}
data=${DATA_DIR:-${TMPDIR:-/tmp}/resilinet-loader-bench}
bin=$build/resilinet
bench=$build/bench/loader_bench
[[ -x $bench ]] || { echo "missing $bench: build the loader_bench target" >&2; exit 1; }

rm -rf "$data"
mkdir -p "$data"
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$data"' EXIT

# Uncompressed shards: from `resilinet synth` when it works, else written by loader_bench itself.
source_note="resilinet synth --cells $cells --deflate 0"
if ! "$bin" synth --cells "$cells" --deflate 0 --out "$data/shards" >"$data/synth.log" 2>&1; then
  echo "resilinet synth failed ($(tail -n 1 "$data/synth.log")); writing shards with loader_bench" >&2
  rm -rf "$data/shards"
  "$bench" --write "$data/shards" --rows "$cells" --shards 4 --features 12 >/dev/null
  source_note="loader_bench --write --rows $cells --shards 4 --features 12"
fi
mapfile -t files < <(find "$data/shards" -name '*.h5' | sort)
bytes=$(cat "${files[@]}" | wc -c)

# Warm the page cache so that both sides read from memory.
cat "${files[@]}" >/dev/null
cat "${files[@]}" >/dev/null

# Wall and CPU (user + system) seconds of one pass of cat, from bash's own `time`.
time_cat() {
  local TIMEFORMAT='%R %U %S'
  { time cat "${files[@]}" >/dev/null; } 2>&1 | awk '{ printf "%.4f %.4f\n", $1, $2 + $3 }'
}

cat_runs=()
cat_cpu=()
loader_runs=()
loader_cpu=()
for ((r = 0; r < rounds; ++r)); do
  read -r wall cpu < <(time_cat)
  cat_runs+=("$wall")
  cat_cpu+=("$cpu")
  line=$("$bench" --data "$data/shards" --batch 1024 --repeats 3 | grep '^RESULT')
  loader_runs+=("$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$line")")
  loader_cpu+=("$(sed -E 's/.* cpu_seconds=([0-9.]+).*/\1/' <<<"$line")")
  rows=$(sed -E 's/.*RESULT rows=([0-9]+).*/\1/' <<<"$line")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
best() { printf '%s\n' "$@" | sort -g | head -n 1; }

cat_med=$(median "${cat_runs[@]}")
cat_best=$(best "${cat_runs[@]}")
ld_med=$(median "${loader_runs[@]}")
ld_best=$(best "${loader_runs[@]}")
cpu_med=$(median "${loader_cpu[@]}")
cat_cpu_med=$(median "${cat_cpu[@]}")

echo "machine: $(uname -m), $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: ${#files[@]} shards, $rows rows, $bytes bytes (${source_note})"
echo "cat seconds per pass:    ${cat_runs[*]}"
echo "cat cpu seconds per pass: ${cat_cpu[*]}"
echo "loader seconds per epoch (median of 3 each, batch 1024, shuffle on): ${loader_runs[*]}"
echo "loader cpu seconds per epoch, both threads: ${loader_cpu[*]}"
awk -v b="$bytes" -v n="$rows" -v cm="$cat_med" -v cb="$cat_best" -v lm="$ld_med" -v lb="$ld_best" -v cpu="$cpu_med" -v ccpu="$cat_cpu_med" 'BEGIN {
  printf "cat    median %.4f s  %.2f GB/s  | best %.4f s  %.2f GB/s\n", cm, b / cm / 1e9, cb, b / cb / 1e9
  printf "loader median %.4f s  %.2f GB/s  %.3g rows/s | best %.4f s  %.2f GB/s  %.3g rows/s\n",
         lm, b / lm / 1e9, n / lm, lb, b / lb / 1e9, n / lb
  printf "cpu seconds per pass, median: cat %.4f, loader %.4f (both threads); cat/loader %.0f%%\n",
         ccpu, cpu, 100 * ccpu / cpu
  printf "ratio loader/cat (same bytes): median %.0f%%, best %.0f%%  (target >= 50%%)\n",
         100 * cm / lm, 100 * cb / lb
}'
