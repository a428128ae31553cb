#!/bin/bash
# Runs the same small jobs with two resilinet binaries (say, before and after a refactor) and
# compares every output byte for byte: checkpoints, ratings, relevance, metrics.
#   bench/run_bitwise_compare.sh OLD_BIN NEW_BIN [WORK_DIR]
# Both runs use 2 threads (bytes are the same for a given thread count). Exit 1 on a difference.
set -euo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)

run() {  # BIN OUT
  local bin=$1 out=$2
  rm -rf "$out" && mkdir -p "$out"
  "$bin" synth --quiet --out "$out/data" --cells 6000 --seed 3
  # Both clustering spaces: completed (k-means consensus) and latent (IDEC), short schedules.
  printf 'clusters: {space: latent}\npretrain: {epochs: 3, min_steps: 0}\nclassifier: {epochs: 2, min_steps: 0}\nidec: {max_epochs: 2}\n' \
    >"$out/latent.yaml"
  printf 'pretrain: {epochs: 3, min_steps: 0}\nclassifier: {epochs: 2, min_steps: 0}\n' >"$out/completed.yaml"
  for space in latent completed; do
    "$bin" train -q -c "$out/$space.yaml" --data "$out/data/*.h5" --run-dir "$out/run_$space" --threads 2
    "$bin" rate -q --checkpoint "$out/run_$space/checkpoint.h5" --data "$out/data/*.h5" --out "$out/rate_$space"
    "$bin" explain -q --checkpoint "$out/run_$space/checkpoint.h5" --data "$out/data/*.h5" --out "$out/explain_$space"
  done
}
run "$old" "$work/old"
run "$new" "$work/new"
/usr/bin/python3 "$here/compare_run_dirs.py" "$work/old" "$work/new"
