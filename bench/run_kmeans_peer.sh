#!/usr/bin/env bash
# k-means peer comparison in one go: writes one float32 .npy of Gaussian blobs, runs scikit-learn
# KMeans (Lloyd, k-means++, n_init 4, 2 threads) and bench/kmeans_bench (4 restarts, 2 threads) on
# it, and prints times, inertias and the ratio. Not a test. Needs a built kmeans_bench.
#
#   bench/run_kmeans_peer.sh [BUILD_DIR] [ROWS] [REPEATS]     (defaults: build 1000000 5)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
rows="${2:-1000000}"
repeats="${3:-5}"
python=/usr/bin/python3  # Debian's python with numpy and scikit-learn
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

source "$here/peer_blas.sh"
peer_blas_check
export OPENBLAS_NUM_THREADS=2
export OMP_NUM_THREADS=2  # both sides: scikit-learn's Lloyd loop and ours are OpenMP
echo "machine: $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores"
"$python" "$here/peer_sklearn_kmeans.py" make-data --out "$work/x.npy" --rows "$rows" --dims 8 --centers 5
"$python" "$here/peer_sklearn_kmeans.py" run --data "$work/x.npy" --clusters 5 --n-init 4 \
  --repeats "$repeats" --threads 2 > "$work/sklearn.json"
"$build/bench/kmeans_bench" --data "$work/x.npy" --clusters 5 --restarts 4 \
  --repeats "$repeats" > "$work/resilinet.json"
"$python" "$here/peer_sklearn_kmeans.py" compare --data "$work/x.npy" "$work/sklearn.json" "$work/resilinet.json"
