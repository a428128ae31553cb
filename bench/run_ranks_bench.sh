#!/usr/bin/env bash
# Training throughput over MPI ranks on one machine: the default job on a synthetic region of
# CELLS cells, 1 process then RANKS ranks (scripts/train-mpirun.sh), 1 thread each, back to back
# (REPEATS times); prints each run's wall time and stage times, then the communication time of one
# step (bench/comm_bench).
#   bench/run_ranks_bench.sh [BUILD_DIR]    CELLS=30000 RANKS=2 REPEATS=2 BATCH=256 SPACE=completed
# BATCH sets every stage's batch (the default config's is 256): the steps' communication is the
# same for any batch, so larger batches show how far the computation itself scales. SPACE=latent
# clusters in the latent space (the IDEC stage).
set -euo pipefail
build=${1:-build}
cells=${CELLS:-30000} ranks=${RANKS:-2} repeats=${REPEATS:-2} batch=${BATCH:-256} space=${SPACE:-completed}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$build/resilinet" synth --quiet --out "$work/data" --cells "$cells" --regions 3 --seed 11
sed -e "s|^data:.*|data: $work/data/*.h5|" -e "s|^  batch: 256|  batch: $batch|" -e "s|^  space: completed|  space: $space|" \
  "$here/configs/default.yaml" > "$work/job.yaml"
grep -q "^  space: $space" "$work/job.yaml" || { echo "run_ranks_bench: no clusters.space line to set" >&2; exit 1; }
run() {  # RANKS
  local n=$1 dir="$work/run$1" start end
  rm -rf "$dir"
  start=$(date +%s.%N)
  if ((n == 1)); then
    "$build/resilinet" train --config "$work/job.yaml" --run-dir "$dir" --threads 1 > "$work/log" 2>&1
  else
    THREADS=1 RESILINET_BIN="$build/resilinet" "$here/scripts/train-mpirun.sh" "$n" --config "$work/job.yaml" --run-dir "$dir" > "$work/log" 2>&1
  fi
  end=$(date +%s.%N)
  printf 'ranks %d: wall %.2f s; %s\n' "$n" "$(echo "$end - $start" | bc)" \
    "$(grep -h '\] done in' "$work/log" | sed -E 's/^\[([a-z]+)\] done in ([0-9.]+s).*/\1 \2/' | paste -sd' ')"
}
for ((i = 0; i < repeats; ++i)); do
  run 1
  run "$ranks"
done
mpirun --bind-to none -n "$ranks" "$build/bench/comm_bench"
