#!/usr/bin/env bash
# Data-parallel training on one machine: RANKS MPI ranks, each with THREADS OpenMP threads.
#   scripts/train-mpirun.sh RANKS [train arguments...]
#   e.g. scripts/train-mpirun.sh 2 --config configs/default.yaml --run-dir runs/two-ranks
# Environment: THREADS (default: the cores divided by RANKS), RESILINET_BIN (default
# build/resilinet), OMPI_MCA_pml (default ob1, below). As root (containers), Open MPI also needs OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1. docs/DISTRIBUTED.md explains what is split between the ranks.
set -euo pipefail
ranks=${1:?usage: scripts/train-mpirun.sh RANKS [train arguments...]}
shift
bin=${RESILINET_BIN:-build/resilinet}
cores=$(nproc)
threads=${THREADS:-$(( cores / ranks > 0 ? cores / ranks : 1 ))}
# The ranks of one machine talk through shared memory (ob1 over vader); Open MPI's default
# probes the cm layer's fabrics (PSM, PSM2, OFI) first, 0.2 s of every start (docs/DISTRIBUTED.md).
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
# --bind-to none: each rank's OpenMP threads may use any core (Open MPI binds a rank to one core
# by default when there are few ranks); --oversubscribe: more ranks than cores is allowed.
exec mpirun --bind-to none --oversubscribe -n "$ranks" "$bin" train --threads "$threads" "$@"
