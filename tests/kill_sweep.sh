#!/usr/bin/env bash
# Random kill points for a training job over MPI ranks (too long for ctest; run by hand and note
# the count): for each of N points, start `train` with RANKS ranks, SIGKILL one random rank (not
# the launcher) after a random delay, check that the job ends with an error within LIMIT seconds,
# then `--resume` with the same world size and check that every checkpoint dataset is bitwise that
# of an uninterrupted run.
#   tests/kill_sweep.sh [N]     BUILD=build RANKS=2 LIMIT=60 SEED=1
# Prints one line per point and a summary; exit 1 if any point failed.
set -uo pipefail
n=${1:-10}
build=${BUILD:-build}
ranks=${RANKS:-2} limit=${LIMIT:-60}
RANDOM=${SEED:-1}
bin=$(cd "$(dirname "$build/resilinet")" && pwd)/resilinet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$bin" synth --quiet --out "$work/data" --cells 40000 --regions 2 --seed 5 || exit 2
# Every stage, short, with a checkpoint every epoch, so that kills land in all of them.
sed -e "s|^data:.*|data: $work/data/*.h5|" -e 's/^  epochs: [0-9]*/  epochs: 20/' -e 's/min_steps: 3000/min_steps: 0/' \
  -e 's/^  device: cpu/  device: cpu\n  checkpoint_every: 1/' "$(dirname "$0")/../configs/default.yaml" > "$work/job.yaml"
train() {  # RUN_DIR [ARGS...]
  local dir=$1
  shift
  mpirun --bind-to none --oversubscribe -n "$ranks" "$bin" train --quiet --threads 1 --config "$work/job.yaml" \
    --run-dir "$dir" "$@"
}
compare() {  # RUN_DIR_A RUN_DIR_B: 0 when every checkpoint dataset is the same
  /usr/bin/python3 - "$1/checkpoint.h5" "$2/checkpoint.h5" <<'PY'
import sys, h5py
def datasets(p):
    out = {}
    with h5py.File(p, "r") as f:
        f.visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = datasets(sys.argv[1]), datasets(sys.argv[2])
bad = [k for k in a if k not in b or getattr(a[k], "tobytes", lambda: a[k])() != getattr(b[k], "tobytes", lambda: b[k])()]
sys.exit(1 if bad or a.keys() != b.keys() else 0)
PY
}
start=$(date +%s.%N)
train "$work/whole" || { echo "kill-sweep: the uninterrupted run failed"; exit 2; }
full=$(echo "$(date +%s.%N) - $start" | bc)
echo "kill-sweep: uninterrupted run ${full}s; $n kill points, $ranks ranks"
failed=0 skipped=0
for ((i = 1; i <= n; ++i)); do
  dir="$work/k$i"
  delay=$(echo "scale=2; $full * $RANDOM / 32768" | bc)
  victim=$((RANDOM % ranks))
  train "$dir" > "$work/k$i.log" 2>&1 &
  launcher=$!
  sleep "$delay"
  pid=""
  # The victim: the rank's process (it may still be starting), unless the job has ended already.
  for ((t = 0; t < 50; ++t)); do
    [[ -n "$pid" ]] && break
    for p in $(pgrep -f -- "--run-dir $dir" || true); do
      tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim" && pid=$p
    done
    [[ -z "$pid" ]] && { kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; }
  done
  if [[ -z "$pid" ]]; then  # finished before the kill
    wait "$launcher"
    echo "kill-sweep: $i: finished before the kill at ${delay}s (skipped)"
    skipped=$((skipped + 1))
    continue
  fi
  kill -9 "$pid"
  killed=$(date +%s.%N)
  ended=""
  for ((t = 0; t < limit * 10; ++t)); do
    kill -0 "$launcher" 2>/dev/null || { ended=1; break; }
    sleep 0.1
  done
  if [[ -z "$ended" ]]; then
    kill -9 "$launcher"
    echo "kill-sweep: $i: FAIL: the job did not end within ${limit}s of rank $victim's death"
    failed=$((failed + 1))
    continue
  fi
  wait "$launcher"
  rc=$?
  took=$(echo "$(date +%s.%N) - $killed" | bc)
  if ((rc == 0)); then
    echo "kill-sweep: $i: FAIL: the job exited 0 after rank $victim was killed at ${delay}s"
    failed=$((failed + 1))
    continue
  fi
  where=$([[ -f "$dir/checkpoint.h5" ]] && echo "its checkpoint" || echo "the beginning (no checkpoint yet)")
  if ! train "$dir" --resume > "$work/r$i.log" 2>&1; then
    echo "kill-sweep: $i: FAIL: --resume failed (killed at ${delay}s)"
    failed=$((failed + 1))
    continue
  fi
  if compare "$work/whole" "$dir"; then
    echo "kill-sweep: $i: ok: rank $victim killed at ${delay}s, job ended in ${took}s (exit $rc), resumed from $where, bitwise equal"
  else
    echo "kill-sweep: $i: FAIL: resumed run differs from the uninterrupted one"
    failed=$((failed + 1))
  fi
done
echo "kill-sweep: $n points ($skipped finished before their kill), $failed failed"
((failed == 0))
