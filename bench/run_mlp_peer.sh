#!/usr/bin/env bash
# Runs the C++ MLP benchmark (bench/mlp_bench.cpp) and its PyTorch peer (bench/peer_torch_mlp.py)
# in alternating rounds on the same thread count (2 by default) and prints medians and ratios.
# Builds nothing. Usage: bench/run_mlp_peer.sh [build-dir] [rounds] [threads]
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$source_dir/build}"
rounds="${2:-3}"
bench="$build_dir/bench/mlp_bench"
python=/usr/bin/python3  # Debian's python3 has torch; the one on PATH may not
threads="${3:-2}"

if [[ ! -x "$bench" ]]; then
  echo "run_mlp_peer.sh: $bench not found; build the mlp_bench target first" >&2
  exit 2
fi

source "$source_dir/bench/peer_blas.sh"
peer_blas_check
export OPENBLAS_NUM_THREADS=$threads

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown); date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "threads: $threads; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} (both sides use libgomp and inherit it)"
for round in $(seq 1 "$rounds"); do
  cut -d' ' -f1 /proc/loadavg > "$work/load_$round"
  echo "round $round/$rounds (load average $(cat "$work/load_$round")): C++ ..."
  OMP_NUM_THREADS=$threads "$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_format=json > "$work/cpp_$round.json" 2> "$work/cpp_$round.err"
  echo "round $round/$rounds: PyTorch ..."
  "$python" "$source_dir/bench/peer_torch_mlp.py" --threads $threads > "$work/torch_$round.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" - "$work" "$rounds" <<'EOF'
import json, statistics, sys

work, rounds = sys.argv[1], int(sys.argv[2])

def cpp_medians(path):
    """name -> the median aggregate row of each benchmark."""
    rows = json.load(open(path))["benchmarks"]
    return {r["run_name"]: r for r in rows if r.get("aggregate_name") == "median"}

cpp = [cpp_medians(f"{work}/cpp_{r}.json") for r in range(1, rounds + 1)]
torch = [json.load(open(f"{work}/torch_{r}.json")) for r in range(1, rounds + 1)]
med = statistics.median

def cpp_value(name, key):
    return med(c[name][key] for c in cpp)

train = cpp_value("BM_AutoencoderTrainStep/1024/real_time", "items_per_second")
train_flops = cpp_value("BM_AutoencoderTrainStep/1024/real_time", "flops")
peak = cpp_value("BM_FmaPeak/real_time", "flops")
torch_train = med(t["train_samples_per_second"] for t in torch)
variants = {k: med(t["train_variants"][k] for t in torch) for k in torch[0]["train_variants"]}
loads = [open(f"{work}/load_{r}").read().strip() for r in range(1, rounds + 1)]
train_name, infer_name = "BM_AutoencoderTrainStep/1024/real_time", "BM_ClassifierInference/65536/real_time"
print()
print("| round | load avg | C++ training samples/s | PyTorch | ratio | C++ inference cells/s (65536) | PyTorch | ratio |")
print("|---|---|---|---|---|---|---|---|")
for r, (c, t) in enumerate(zip(cpp, torch)):
    ct, tt = c[train_name]["items_per_second"], t["train_samples_per_second"]
    ci, ti = c[infer_name]["items_per_second"], t["inference_cells_per_second"]["65536"]
    print(f"| {r + 1} | {loads[r]} | {ct:,.0f} | {tt:,.0f} | {ct / tt:.1f}x | {ci:,.0f} | {ti:,.0f} | {ci / ti:.1f}x |")
print(f"PyTorch {torch[0]['torch_version']}, {torch[0]['threads']} threads; training variants (median samples/s): "
      + ", ".join(f"{k} {v:,.0f}" for k, v in variants.items()))
print()
print(f"| measurement ({torch[0]['threads']} threads, medians over rounds) | resilinet C++ | PyTorch | ratio |")
print("|---|---|---|---|")
print(f"| autoencoder training step, batch 1024 (samples/s) | {train:,.0f} | {torch_train:,.0f} | {train / torch_train:.1f}x |")
for cells in (1024, 65536):
    ours = cpp_value(f"BM_ClassifierInference/{cells}/real_time", "items_per_second")
    theirs = med(t["inference_cells_per_second"][str(cells)] for t in torch)
    print(f"| classifier head inference, {cells} cells (cells/s) | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x |")
print()
print(f"measured fp32 FMA peak ({torch[0]['threads']} threads, AVX2): {peak / 1e9:.1f} GFLOP/s; "
      f"torch.mm 1024^3: {med(t['matmul_1024_flops'] for t in torch) / 1e9:.1f} GFLOP/s")
print(f"autoencoder training step: {train_flops / 1e9:.1f} GFLOP/s = {100 * train_flops / peak:.0f}% of the FMA peak "
      f"(dense count: masked first-layer weights are computed)")
EOF
