#!/usr/bin/env bash
# All US counties with the default model over several seeds: level shares, agreement between the
# seeds (ARI of the rated levels and of the cluster levels), the head's held-out macro-F1, the level
# order, and agreement with the external rating (NRI social vulnerability, inverted) next to the
# built-in k-means baseline and an equal-weight index. Prints Markdown for bench/RESULTS.md.
# A benchmark, not a test.
#
#   bench/run_counties_table.sh [BUILD_DIR]     (default: build next to this folder)
#   env: DATA (the public tables, default ../shared/data), SEEDS ("0 1 2 3 4"), WORK (scratch, kept)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/resilinet
[[ -x $bin ]] || { echo "missing $bin: build the resilinet target" >&2; exit 1; }
tables=${DATA:-$root/../shared/data}
work=${WORK:-${TMPDIR:-/tmp}/resilinet-counties}
py=/usr/bin/python3
rm -rf "$work"
mkdir -p "$work"
"$py" "$root/datasets/us_counties/build_us_counties.py" --data-dir "$tables" --out "$work/table" 2>"$work/build.log"
"$bin" ingest --quiet --csv "$work/table/us_counties.csv" --schema "$work/table/us_counties_schema.yaml" --out "$work/shards"
echo "config: configs/us_counties.yaml (the defaults); machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
runs=()
for s in ${SEEDS:-0 1 2 3 4}; do
  run=$work/run-$s
  start=$(date +%s.%N)
  "$bin" train --config "$root/configs/us_counties.yaml" --data "$work/shards/*.h5" --run-dir "$run" --seed "$s" --quiet
  echo "seed $s: trained in $(echo "$(date +%s.%N) - $start" | bc) s"
  "$bin" rate --quiet --checkpoint "$run/checkpoint.h5" --data "$work/shards/*.h5" --out "$run/ratings" --format hdf5
  runs+=("$run")
done
"$py" - "$work/shards" "${runs[@]}" <<'PY'
import glob, itertools, json, sys
import h5py
import numpy as np

def ari(a, b):
    _, ai = np.unique(a, return_inverse=True); _, bi = np.unique(b, return_inverse=True)
    t = np.zeros((ai.max() + 1, bi.max() + 1)); np.add.at(t, (ai, bi), 1)
    pairs = lambda x: (x * (x - 1) / 2).sum()
    s, ra, rb = pairs(t), pairs(t.sum(1)), pairs(t.sum(0)); e = ra * rb / pairs(np.array([len(a)]))
    return (s - e) / ((ra + rb) / 2 - e)

def kappa(a, b, k=5):
    t = np.zeros((k, k)); np.add.at(t, (a - 1, b - 1), 1); n = t.sum()
    w = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2 / (k - 1) ** 2
    return 1 - (w * t).sum() / n / ((w * np.outer(t.sum(1), t.sum(0))).sum() / n / n)

shards, runs = sys.argv[1], sys.argv[2:]
with h5py.File(glob.glob(shards + "/*.h5")[0], "r") as f:
    ids, x, ext = f["cell_id"][:], f["features"][:].astype(float), f["external_rating"][:]
    direction = f.attrs["feature_direction"]
order = np.argsort(ids)
x, ext = x[order], ext[order]
rated, clusters, metrics = [], [], []
for run in runs:
    with h5py.File(run + "/ratings/ratings.h5", "r") as f:
        o = np.argsort(f["cell_id"][:])
        rated.append(f["level"][:][o]); clusters.append(f["cluster_level"][:][o])
    metrics.append(json.load(open(run + "/metrics.json")))
n = len(ids)
print("\n| seed | smallest level (share) | level cells | held-out macro-F1 | restart ARI mean (min) | order consistent | ARI vs k-means baseline | kappa vs external: model / baseline |")
print("|---|---|---|---|---|---|---|---|")
for r, l, m in zip(runs, rated, metrics):
    e, c = m["evaluation"], m["clusters"]
    cells = np.bincount(l, minlength=6)[1:]
    print(f"| {r.rsplit('-', 1)[1]} | {cells.min() / n:.3f} | {' / '.join(map(str, cells))} | {e['classifier_macro_f1']:.3f} | "
          f"{c['restart_ari_mean']:.3f} ({c['restart_ari_min']:.3f}) | {e['level_order_consistent']} | "
          f"{e['baseline_kmeans']['ari_model']:.3f} | {e['kappa_external']:.3f} / {e['baseline_kmeans']['kappa_external']:.3f} |")
for name, levels in (("rated levels", rated), ("cluster levels", clusters)):
    a = [ari(levels[i], levels[j]) for i, j in itertools.combinations(range(len(levels)), 2)]
    print(f"\npairwise ARI between seeds, {name}: min {min(a):.3f}, mean {np.mean(a):.3f}")
# An equal-weight index: the mean direction-signed, robust-scaled feature, cut at quintiles.
lo, hi = np.nanpercentile(x, 1, 0), np.nanpercentile(x, 99, 0)
s = np.clip((np.where(np.isnan(x), np.nanmedian(x, 0), x) - lo) / np.where(hi > lo, hi - lo, 1), -0.2, 1.2)
index = (s * direction).mean(1)
index_level = 1 + np.searchsorted(np.quantile(index, [0.2, 0.4, 0.6, 0.8]), index)
has = ext > 0
print(f"equal-weight index vs external rating ({has.sum()} counties): kappa {kappa(index_level[has], ext[has]):.3f}, "
      f"ARI {ari(index_level[has], ext[has]):.3f}; model (seed {runs[0].rsplit('-', 1)[1]}): kappa "
      f"{kappa(rated[0][has], ext[has]):.3f}, ARI {ari(rated[0][has], ext[has]):.3f}")
PY
