#!/usr/bin/env bash
# Rating throughput against PyTorch in one go: bench/rating_bench (rate_scaled in batches of 8192,
# 2 threads) exports the default model, random centroids, the rows and its outputs; the PyTorch peer
# (bench/peer_torch_rating.py, 2 threads) checks its outputs against them and surveys its variants
# once, then both sides are timed back to back in each round (PyTorch: the faster of its oneDNN
# variants) and the ratio is printed per round, with resilinet's share of the FMA peak that
# rating_bench measures in the same round. Builds nothing; not a test.
#
#   bench/run_rating_peer.sh BUILD_DIR [ROUNDS] [ROWS] [REPEATS]     (defaults: 3 1000000 5)
#   PEER_VARIANTS=onednn_cdist,eager_broadcast ... to time other PyTorch variants in the rounds
#   CHECKPOINT=run/checkpoint.h5 DATA='shards/*.h5' ... rate a trained model (clusters.space: latent)
#   on its data's rows instead of the default model as initialised on uniform rows: a trained
#   model's hidden ReLUs are zero more often, which resilinet's forward pass skips
#   OMP_WAIT_POLICY=passive ... (both sides use libgomp; on a shared, oversubscribed machine its
#   default spin-waiting makes 2-thread runs of either side several times slower)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?usage: run_rating_peer.sh BUILD_DIR [ROUNDS] [ROWS] [REPEATS]}"
rounds="${2:-3}"
rows="${3:-1000000}"
repeats="${4:-5}"
bench="$build/bench/rating_bench"
python=/usr/bin/python3  # Debian's python with numpy and torch; the one on PATH has neither
threads=2
variants="${PEER_VARIANTS:-onednn_broadcast,onednn_cdist}"
survey_rows=131072

if [[ ! -x "$bench" ]]; then
  echo "run_rating_peer.sh: $bench not found; build the rating_bench target first" >&2
  exit 2
fi
model_args=()
if [[ -n "${CHECKPOINT:-}" ]]; then model_args=(--checkpoint "$CHECKPOINT" --data "${DATA:?DATA goes with CHECKPOINT}"); fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
source "$here/peer_blas.sh"
peer_blas_check
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'); $(uname -sm)"
echo "commit: $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown) (plus working tree); date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "rows $rows, batch 8192, threads $threads, repeats $repeats (median), rounds $rounds, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
echo "model: ${CHECKPOINT:-the default model as initialised, uniform rows}${DATA:+ on the rows of $DATA}"

echo "export, check every PyTorch variant on all rows, survey the variants on $survey_rows rows ..."
"$bench" --rows "$rows" --threads $threads --repeats 1 "${model_args[@]}" --export "$work" > "$work/export.json"
"$python" "$here/peer_torch_rating.py" --dir "$work" --threads $threads --repeats 0 --check \
  > "$work/check.json" || { cat "$work/check.json"; exit 3; }
"$python" "$here/peer_torch_rating.py" --dir "$work" --threads $threads --repeats 3 \
  --rows $survey_rows > "$work/survey.json"

for round in $(seq 1 "$rounds"); do
  # 1-minute load average and running/total tasks just before each side
  echo "$(cut -d' ' -f1,4 /proc/loadavg)" > "$work/load_$round"
  echo "round $round/$rounds (load average, running/total tasks: $(cat "$work/load_$round")) ..."
  "$bench" --rows "$rows" --threads $threads --repeats "$repeats" "${model_args[@]}" > "$work/cpp_$round.json"
  echo "$(cut -d' ' -f1,4 /proc/loadavg)" >> "$work/load_$round"
  "$python" "$here/peer_torch_rating.py" --dir "$work" --threads $threads --repeats "$repeats" \
    --variants "$variants" > "$work/torch_$round.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" - "$work" "$rounds" <<'EOF'
import json, statistics, sys

work, rounds = sys.argv[1], int(sys.argv[2])
cpp = [json.load(open(f"{work}/cpp_{r}.json")) for r in range(1, rounds + 1)]
torch = [json.load(open(f"{work}/torch_{r}.json")) for r in range(1, rounds + 1)]
loads = [" / ".join(open(f"{work}/load_{r}").read().split("\n")[:2]) for r in range(1, rounds + 1)]
check = json.load(open(f"{work}/check.json"))["check"]

print()
for name, c in check.items():
    print(f"check ({name}, {c['rows']} rows): max|dz| {c['max_abs_dz']:.2e} (max|z| {c['max_abs_z']:.2f}), "
          f"max|dq| {c['max_abs_dq']:.2e}, max|dlogits| {c['max_abs_dlogits']:.2e}, "
          f"cluster-level mismatches {c['cluster_level_mismatches']}, level mismatches {c['level_mismatches']} "
          f"({c['mismatches_not_near_ties']} not near-ties) -> {'ok' if c['ok'] else 'FAILED'}")
first = next(iter(check.values()))
print(f"rows per cluster level 1..5: {first['cluster_level_counts']}; per classifier level: {first['level_counts']}")
print()
print("| round | load avg, running/total tasks (before C++ / before PyTorch) | resilinet cells/s (median; best pass) "
      "| PyTorch cells/s (median; best pass; variant) | ratio of medians | ratio of best passes "
      "| resilinet dense-equivalent GFLOP/s (share of the FMA peak measured in the round; skipped zero products count) |")
print("|---|---|---|---|---|---|---|")
ratios = []
for r, (c, t) in enumerate(zip(cpp, torch)):
    ratios.append(c["cells_per_s"] / t["cells_per_s"])
    best = c["best_pass_cells_per_s"] / t["best_pass_cells_per_s"]
    peak = (f"{c['gflop_s']:.0f} ({100 * c['share_of_fma_peak']:.0f}% of {c['fma_peak_gflop_s']:.0f}, "
            f"{c['fma_peak_lanes']} lanes)" if c.get("fma_peak_gflop_s") else "n/a")
    print(f"| {r + 1} | {loads[r]} | {c['cells_per_s']:,.0f}; {c['best_pass_cells_per_s']:,.0f} "
          f"| {t['cells_per_s']:,.0f}; {t['best_pass_cells_per_s']:,.0f}; {t['best_variant']} | {ratios[-1]:.1f}x | {best:.1f}x "
          f"| {peak} |")
print(f"median ratio {statistics.median(ratios):.1f}x (PyTorch {torch[0]['torch_version']}, {torch[0]['threads']} threads)")
if cpp[0].get("multiply_adds_per_row"):
    print(f"resilinet: {cpp[0]['multiply_adds_per_row']:,.0f} multiply-adds per row (encoder to z and head, grouped "
          f"layer counted by its connections); the FMA peak is {cpp[0]['threads']} threads of 12 independent FMA chains")
print()
survey = json.load(open(f"{work}/survey.json"))
print(f"PyTorch variant survey ({survey['rows']} rows, median of {survey['repeats']}), cells/s: " + ", ".join(
    f"{k} {v:,.0f}" for k, v in survey["variants_cells_per_s"].items()))
print("PyTorch variants timed in the rounds, cells/s: " + "; ".join(
    ", ".join(f"{k} {v:,.0f}" for k, v in t["variants_cells_per_s"].items()) for t in torch))
print()
names = list(cpp[0]["parts_s"])
print("| resilinet part (seconds per pass, median of rounds) | s | share of the parts in rate_scaled |")
print("|---|---|---|")
med = {n: statistics.median(c["parts_s"][n] for c in cpp) for n in names}
inside = sum(v for n, v in med.items() if not n.startswith("scaler"))
for n in names:
    share = "" if n.startswith("scaler") else f"{100 * med[n] / inside:.0f}%"
    print(f"| {n} | {med[n]:.4f} | {share} |")
print(f"| sum of parts in rate_scaled | {inside:.4f} | (whole rate_scaled pass: {statistics.median(c['median_s'] for c in cpp):.4f}) |")
EOF
