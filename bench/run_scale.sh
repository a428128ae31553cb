#!/usr/bin/env bash
# National scale: time and peak RSS of synth, train (a fixed step budget: configs/national.yaml),
# rate, explain and report at growing cell counts, and the fitted scaling exponent of each command
# (the slope of log time over log cells). Prints Markdown for bench/RESULTS.md. A benchmark, not a
# test. Disk: about 150 bytes a cell while a size runs (shards 85, ratings 66); each size's folder is
# removed before the next.
#
#   bench/run_scale.sh [BUILD_DIR]     (default: build next to this folder)
#   env: CELLS ("1000000 10000000 100000000"), WORK (scratch), KEEP=1 (keep the folders)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/resilinet
[[ -x $bin ]] || { echo "missing $bin: build the resilinet target" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
work=${WORK:-${TMPDIR:-/tmp}/resilinet-scale}
cells_list=${CELLS:-1000000 10000000 100000000}
results=$work/results.tsv
mkdir -p "$work"
: > "$results"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$root" rev-parse --short HEAD)"

# measure SIZE NAME COMMAND...: runs it under /usr/bin/time -v, appends "size name seconds rss_kb".
measure() {
  local size=$1 name=$2
  shift 2
  /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/$name-$size.log" 2>&1 || {
    echo "$name at $size cells failed:" >&2
    tail -5 "$work/$name-$size.log" >&2
    exit 1
  }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  printf '%s\t%s\t%s\t%s\n' "$size" "$name" "$wall" "$rss" >> "$results"
  printf '%12s cells  %-8s %9.1f s  %8.1f MiB\n' "$size" "$name" "$wall" "$(echo "$rss / 1024" | bc -l)"
}

for n in $cells_list; do
  dir=$work/$n
  rm -rf "$dir"
  regions=$((n / 1000000 > 3 ? n / 1000000 : 3))
  measure "$n" synth "$bin" synth --quiet --cells "$n" --regions "$regions" --out "$dir/data"
  measure "$n" train "$bin" train --quiet --config "$root/configs/national.yaml" --data "$dir/data/*.h5" --run-dir "$dir/run"
  measure "$n" rate "$bin" rate --quiet --no-latent --format hdf5 --checkpoint "$dir/run/checkpoint.h5" --data "$dir/data/*.h5" --out "$dir/ratings"
  measure "$n" explain "$bin" explain --quiet --summary-only --checkpoint "$dir/run/checkpoint.h5" --data "$dir/data/*.h5" --out "$dir/explain"
  measure "$n" report "$bin" report --quiet --checkpoint "$dir/run/checkpoint.h5" --data "$dir/data/*.h5" \
    --metrics "$dir/run/metrics.json" --explain "$dir/explain/explain_summary.json" --out "$dir/report"
  du -sb "$dir/data" "$dir/ratings" "$dir/report/report.html" | awk '{printf "  %s: %.2f GB\n", $2, $1 / 1e9}'
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$dir"
done

/usr/bin/python3 - "$results" <<'PY'
import collections, math, sys
rows = [line.split("\t") for line in open(sys.argv[1]) if line.strip()]
by = collections.defaultdict(dict)
for size, name, wall, rss in rows:
    by[name][int(size)] = (float(wall), int(rss) / 1024)
sizes = sorted({int(r[0]) for r in rows})
print("\n| command | " + " | ".join(f"{s:.0e} cells: s / MiB" for s in sizes) + " | exponent (time) |")
print("|---" * (len(sizes) + 2) + "|")
for name in ("synth", "train", "rate", "explain", "report"):
    if name not in by: continue
    cells = [f"{by[name][s][0]:.1f} / {by[name][s][1]:.0f}" if s in by[name] else "-" for s in sizes]
    pts = sorted(by[name].items())
    if len(pts) >= 2:
        xs = [math.log(s) for s, _ in pts]; ys = [math.log(max(v[0], 1e-3)) for _, v in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        exponent = f"{slope:.2f}"
    else:
        exponent = "-"
    print(f"| {name} | " + " | ".join(cells) + f" | {exponent} |")
PY
