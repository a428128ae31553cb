#!/usr/bin/env bash
# A real single-node Slurm cluster: starts munged, slurmctld and slurmd on this machine with a
# generated config (proctrack/linuxproc, task/none, one node with this machine's CPUs, ports picked
# free), submits scripts/slurm-train.sbatch for 2 tasks on a small synthetic data set, once with
# `srun --mpi=pmix` and once with `mpirun` inside the allocation, and checks that each job
# completed and that its checkpoint and ratings exist and equal a single-process run's; then a
# longer job that gets USR1 (Slurm's warning before the time limit) must requeue itself, resume
# from its checkpoint and end as the single process did. Stops the daemons it started. Exit 77 (a skip for ctest) only where the cluster cannot start.
#   tests/slurm_cluster_test.sh RESILINET_BIN SOURCE_DIR
set -euo pipefail
bin=$(realpath "${1:?usage: slurm_cluster_test.sh RESILINET_BIN SOURCE_DIR}")
src=${2:?usage: slurm_cluster_test.sh RESILINET_BIN SOURCE_DIR}
python=${RESILINET_PYTHON:-/usr/bin/python3}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for tool in munged slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$tool" > /dev/null || PATH=$PATH:/usr/sbin command -v "$tool" > /dev/null ||
    skip "$tool is not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
done
export PATH=$PATH:/usr/sbin

work=$(mktemp -d "${TMPDIR:-/tmp}/resilinet-slurm.XXXXXX")
pids=()
cleanup() {
  # Only the daemons started here, by their process ids.
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
show_logs() { for f in "$work"/log/*; do echo "--- $f"; tail -n 20 "$f"; done; }

mkdir -p "$work"/{munge,state,spool,log}
chmod 700 "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
socket=$work/munge/munge.socket
munged --force --socket="$socket" --key-file="$work/munge/munge.key" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" || skip "munged does not start here"
pids+=("$(cat "$work/munge/munged.pid")")

ports=$("$python" -c '
import socket
held = [socket.socket() for _ in range(2)]
for s in held: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))')
read -r ctld_port slurmd_port <<< "$ports"
host=$(hostname -s)
user=$(id -un)
cat > "$work/slurm.conf" << EOF
ClusterName=resilinet-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
PlugStackConfig=$work/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
touch "$work/plugstack.conf"
export SLURM_CONF=$work/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" > "$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" > "$work/log/slurmd.out" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2> /dev/null | grep -q idle; then ready=1; break; fi
  sleep 0.2
done
((ready)) || { show_logs; skip "the Slurm daemons did not start (logs above)"; }
echo "slurm: cluster up ($host, $(nproc) CPUs, ports $ctld_port/$slurmd_port)"

# The run's checkpoint parameters within 1e-5 of the single process's, and every level equal.
same_as_single() {
  "$python" - "$@" << 'EOF'
import sys
import h5py
import numpy as np

single, run, launcher = sys.argv[1:4]

def parameters(path):
    # Every float dataset, by name: the trained networks, the scaler and the centroids.
    out = {}
    with h5py.File(path + "/checkpoint.h5", "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                out[name] = obj[()]
        f.visititems(visit)
    return out

a, b = parameters(single), parameters(run)
assert a and a.keys() == b.keys(), f"{launcher}: checkpoint datasets differ: {sorted(a)} vs {sorted(b)}"
for name in a:
    x, y = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
    assert x.shape == y.shape, f"{launcher}: {name} has shape {y.shape}, the single process {x.shape}"
    worst = float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-3))) if x.size else 0.0
    assert worst <= 1e-5, f"{launcher}: {name} differs from the single process by {worst:.3g} (relative)"
with h5py.File(single + "/ratings/ratings.h5", "r") as f, h5py.File(run + "/ratings/ratings.h5", "r") as g:
    x, y = f["level"][()], g["level"][()]
    assert x.shape == y.shape and len(x) > 0, f"{launcher}: {len(y)} rated cells, expected {len(x)}"
    same = float(np.mean(x == y))
    assert same == 1.0, f"{launcher}: {same:.4f} of the levels equal the single process's"
print(f"slurm: {launcher} job: {len(a)} parameter arrays within 1e-5 of the single process, all {len(x)} levels equal")
EOF
}

# A small region and a short training of every stage.
"$bin" synth --out "$work/data" --cells 12000 --regions 2 --seed 5 > /dev/null
cat > "$work/job.yaml" << EOF
data: $work/data/*.h5
run: {seed: 3}
pretrain: {epochs: 3, min_steps: 0}
classifier: {epochs: 2, min_steps: 0}
EOF
"$bin" train --quiet --threads 1 --config "$work/job.yaml" --run-dir "$work/single"
"$bin" rate --quiet --checkpoint "$work/single/checkpoint.h5" --data "$work/data/*.h5" --out "$work/single/ratings"

for launcher in srun mpirun; do
  run=$work/run-$launcher
  status=0
  RESILINET_BIN=$bin RESILINET_LAUNCHER=$launcher timeout 600 \
    sbatch --wait --ntasks=2 --chdir="$work" --output="$work/log/job-$launcher.out" \
    "$src/scripts/slurm-train.sbatch" --config "$work/job.yaml" --run-dir "$run" --quiet > /dev/null || status=$?
  job=$(sed -n 's/^resilinet-train: job \([0-9]*\),.*/\1/p' "$work/log/job-$launcher.out" | head -n 1)
  state=$(scontrol show job "$job" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  if ((status != 0)) || [[ "$state" != "COMPLETED" ]]; then
    show_logs
    fail "the $launcher job ${job:-?} ended with sbatch status $status, state ${state:-unknown}"
  fi
  same_as_single "$work/single" "$run" "$launcher"
done
# Requeue: a longer job with a checkpoint every epoch gets USR1 (as Slurm sends it before the time
# limit) once its first checkpoint exists; it requeues itself, and its second start resumes.
sed 's/^run: {seed: 3}/run: {seed: 3, checkpoint_every: 1}/; s/epochs: 3,/epochs: 30,/' "$work/job.yaml" > "$work/long.yaml"
"$bin" train --quiet --threads 1 --config "$work/long.yaml" --run-dir "$work/single-long"
"$bin" rate --quiet --checkpoint "$work/single-long/checkpoint.h5" --data "$work/data/*.h5" --out "$work/single-long/ratings"
run=$work/run-requeued
job=$(RESILINET_BIN=$bin sbatch --parsable --ntasks=2 --chdir="$work" --output="$work/log/job-requeued.out" \
  "$src/scripts/slurm-train.sbatch" --config "$work/long.yaml" --run-dir "$run")
job_state() { scontrol show job "$job" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
for _ in $(seq 600); do [[ -f "$run/checkpoint.h5" ]] && break; sleep 0.1; done
[[ -f "$run/checkpoint.h5" ]] || { show_logs; fail "the requeue job wrote no checkpoint within 60 s"; }
scancel --signal=USR1 --batch "$job"
for _ in $(seq 300); do [[ "$(job_state)" == PENDING ]] && break; sleep 0.2; done
[[ "$(job_state)" == PENDING ]] || { show_logs; fail "job $job did not requeue itself on USR1 (state $(job_state))"; }
scontrol update JobId="$job" StartTime=now  # Slurm holds a requeued job back for a while
for _ in $(seq 600); do [[ "$(job_state)" =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT)$ ]] && break; sleep 0.5; done
[[ "$(job_state)" == COMPLETED ]] || { show_logs; fail "the requeued job $job ended in state $(job_state)"; }
grep -q "start 2" "$work/log/job-requeued.out" && grep -q "resuming" "$work/log/job-requeued.out" ||
  { cat "$work/log/job-requeued.out"; fail "job $job did not start again and resume"; }
same_as_single "$work/single-long" "$run" "requeued"

echo "slurm: PASS"
