#!/usr/bin/env bash
# Level recovery on every synthetic generator: the default config (or CONFIG) trained with several
# seeds on 100,000 cells per generator, against k-means on the min-max scaled raw features (the
# reference) and the run's built-in k-means baseline (the model's own scaler). Prints a Markdown
# table for bench/RESULTS.md. A benchmark, not a test: about a minute per run on 2 cores.
#
#   bench/run_quality_table.sh [BUILD_DIR]      (default: build next to this folder)
#   env: GENERATORS ("metro factors skewed"), SEEDS ("0 1 2 3 4"), CELLS (100000), DATA_SEED (11),
#        CONFIG (configs/default.yaml), WORK (scratch folder, kept)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/resilinet
[[ -x $bin ]] || { echo "missing $bin: build the resilinet target" >&2; exit 1; }
config=${CONFIG:-$root/configs/default.yaml}
work=${WORK:-${TMPDIR:-/tmp}/resilinet-quality}
py=/usr/bin/python3
mkdir -p "$work"
echo "config: ${config#"$root/"}; cells ${CELLS:-100000}, data seed ${DATA_SEED:-11}"
echo "machine: $(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| generator | seed | model ARI | k-means (min-max) ARI | model - k-means | built-in baseline ARI | train s |"
echo "|---|---|---|---|---|---|---|"
for g in ${GENERATORS:-metro factors skewed}; do
  data=$work/data-$g
  [[ -f $data/synth.yaml ]] || "$bin" synth --generator "$g" --cells "${CELLS:-100000}" --regions 3 \
    --seed "${DATA_SEED:-11}" --out "$data" --overwrite --quiet
  # shellcheck disable=SC2086
  reference=$("$py" "$root/bench/kmeans_minmax_ari.py" "$data/*.h5" --seeds ${SEEDS:-0 1 2 3 4})
  for s in ${SEEDS:-0 1 2 3 4}; do
    run=$work/run-$g-$s
    start=$(date +%s.%N)
    "$bin" train --config "$config" --data "$data/*.h5" --run-dir "$run" --seed "$s" --quiet
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    "$py" - "$run/metrics.json" "$reference" "$s" "$g" "$seconds" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["evaluation"]
ref = json.loads(sys.argv[2])[sys.argv[3]]
model, base = m["ari_planted"], m["baseline_kmeans"]["ari_planted"]
print(f"| {sys.argv[4]} | {sys.argv[3]} | {model:.3f} | {ref:.3f} | {model - ref:+.3f} | {base:.3f} | {float(sys.argv[5]):.1f} |")
PY
  done
done
