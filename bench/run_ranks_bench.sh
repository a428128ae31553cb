#!/usr/bin/env bash
# Training throughput over MPI ranks on one machine: the default job on a synthetic region of
# CELLS cells, 1 process then RANKS ranks (scripts/train-mpirun.sh), 1 thread each, back to back
# (REPEATS times); prints each run's wall time and stage times, then the communication time of one
# step (bench/comm_bench). Each repeat also runs RANKS independent single processes at once: their
# slowdown against one alone is what sharing the machine costs any RANKS busy cores (clock, caches,
# memory, the host), so RANKS x alone / together is the most RANKS ranks could scale here ("ceiling").
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
  last_wall=$(echo "$end - $start" | bc)
  printf 'ranks %d: wall %.2f s; %s\n' "$n" "$(echo "$end - $start" | bc)" \
    "$(grep -h '\] done in' "$work/log" | sed -E 's/^\[([a-z]+)\] done in ([0-9.]+s).*/\1 \2/' | paste -sd' ')"
}
stage() {  # LOG STAGE: its seconds
  grep -h "\[$2\] done in" "$1" | sed -E 's/.*done in ([0-9.]+)s.*/\1/'
}
together() {  # RANKS independent single processes at once
  local n=$1 start end i walls=() pres=()
  for ((i = 0; i < n; ++i)); do rm -rf "$work/alone$i"; done
  start=$(date +%s.%N)
  for ((i = 0; i < n; ++i)); do
    ( "$build/resilinet" train --config "$work/job.yaml" --run-dir "$work/alone$i" --threads 1 > "$work/alone$i.log" 2>&1
      echo "$(date +%s.%N)" > "$work/alone$i.end" ) &
  done
  wait
  for ((i = 0; i < n; ++i)); do
    walls+=("$(printf "%.2f" "$(echo "$(cat "$work/alone$i.end") - $start" | bc)")")
    pres+=("$(stage "$work/alone$i.log" pretrain)")
  done
  local wall_mean pre_mean
  wall_mean=$(printf '%s\n' "${walls[@]}" | awk '{s += $1} END {printf "%.2f", s / NR}')
  pre_mean=$(printf '%s\n' "${pres[@]}" | awk '{s += $1} END {printf "%.2f", s / NR}')
  printf '%d independent processes at once: wall %s s; pretrain %s s; ceiling: job %.2fx, pretrain %.2fx\n' \
    "$n" "${walls[*]}" "${pres[*]}" "$(echo "$n * $alone_wall / $wall_mean" | bc -l)" \
    "$(echo "$n * $alone_pre / $pre_mean" | bc -l)"
}
for ((i = 0; i < repeats; ++i)); do
  run 1
  alone_wall=$last_wall alone_pre=$(stage "$work/log" pretrain)
  run "$ranks"
  together "$ranks"
done
mpirun --bind-to none -n "$ranks" "$build/bench/comm_bench"
