#!/usr/bin/env bash
# Nsight Compute over bench/gpu_bench on the GPU machine, from the repository root with .gpu/
# staged (scripts/gpu-bundle.sh; device tool: carry [".gpu"]): one profiled launch of every kernel
# of the three workloads, with the sections that say where a kernel's time goes (speed of light,
# occupancy, launch statistics, warp stall reasons). Writes ${OUT:-.gpu/out}/gpu-profile.txt.
# Run it after scripts/gpu-check.sh in the same call: the check's timings are then unprofiled.
#
#   GPU_PROFILE_TIMEOUT_S=120   seconds for the whole profile
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
G=.gpu
out="${OUT:-$G/out}"
mkdir -p "$out" || exit 2
report="$out/gpu-profile.txt"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
[[ -n "$ncu" ]] || { echo "gpu-profile: ncu not found" | tee "$report"; exit 1; }
# Fewer rows than the benchmark: the kernels' shapes per block are the same, and each profiled
# launch is replayed once per counter pass.
timeout -k 10 "${GPU_PROFILE_TIMEOUT_S:-120}" "$ncu" --clock-control none \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
  --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
  --launch-count 30 \
  env "LD_LIBRARY_PATH=$PWD/$G/lib" "$G/bin/gpu_bench" --train-rows 65536 --rate-rows 262144 \
  --lrp-rows 262144 --repeats 1 --warmup 0 --check-rows 64 > "$report" 2>&1
rc=$?
echo "gpu-profile: exit $rc; report $report ($(wc -l < "$report") lines)"
exit $rc
