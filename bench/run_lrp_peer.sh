#!/usr/bin/env bash
# LRP peer comparison in one go: writes a random F -> 64 -> 32 -> 5 head and min-max scaled rows,
# runs the default composite in PyTorch (modified layers + autograd, 2 threads) and bench/lrp_bench
# (2 threads) on them, checks that both give the same relevance, and prints cells/s and the ratio.
# Then both again on 1 thread, where process CPU time is a measure that other load barely moves.
# Not a test. Needs a built lrp_bench.
#
#   bench/run_lrp_peer.sh [BUILD_DIR] [ROWS] [REPEATS]     (defaults: build 65536 7)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
rows="${2:-65536}"
repeats="${3:-7}"
python=/usr/bin/python3  # Debian's python with numpy and torch
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

source "$here/peer_blas.sh"
peer_blas_check
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
echo "machine: $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores"
"$python" "$here/peer_torch_lrp.py" make-data --dir "$work" --rows "$rows"
"$build/bench/lrp_bench" --dir "$work" --threads 2 --repeats "$repeats" \
  --write-relevance "$work/relevance.f32" > "$work/resilinet.json"
"$python" "$here/peer_torch_lrp.py" run --dir "$work" --threads 2 --repeats "$repeats" \
  --check "$work/relevance.f32" > "$work/torch.json"
"$python" "$here/peer_torch_lrp.py" compare "$work/torch.json" "$work/resilinet.json"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$build/bench/lrp_bench" --dir "$work" --threads 1 --repeats "$repeats" > "$work/resilinet1.json"
"$python" "$here/peer_torch_lrp.py" run --dir "$work" --threads 1 --repeats "$repeats" \
  > "$work/torch1.json"
"$python" "$here/peer_torch_lrp.py" compare "$work/torch1.json" "$work/resilinet1.json"
