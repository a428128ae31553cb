#!/usr/bin/env bash
# The whole GPU verification in one run on the GPU machine, from the repository root, with .gpu/
# staged by scripts/gpu-bundle.sh and carried there (device tool: carry [".gpu"]):
#   a. the device, the driver and the staged libraries
#   b. every .gpu/bin/cuda_*_test (GoogleTest; a skipped test counts as a failure on a GPU machine)
#   c. compute-sanitizer memcheck and racecheck on each of them with small shapes
#   d. end to end on the default data: two GPU trainings bitwise identical, GPU against CPU training
#      (ARI of the levels), rate and explain on cuda against cpu, train --resume on the GPU, train
#      over the NCCL communicator with one GPU
#   e. bench/gpu_bench beside bench/peer_torch_gpu.py (PyTorch eager and torch.compile), the ratios
# Every step is timed and recorded, and the script goes on after a failure; it exits 1 if any step
# failed. Writes ${OUT:-.gpu/out}/gpu-check-summary.md and, beside it, the logs (7 files, flat).
# Not a test of the CPU build: ctest covers that. GPU_CHECK_DRY_RUN=1 runs the plumbing on a machine
# without a GPU (GPU-only steps are skipped, the end-to-end runs use the CPU in place of cuda).
#
#   GPU_CHECK_BUDGET_S=450   seconds for everything; a step that would start after it is a failure
#   GPU_CHECK_THREADS=16     run.threads of every training run (the same for all, as --resume needs)
#   GPU_CHECK_NO_COMPILE=1   the PyTorch peer without torch.compile
#   PYTHON=python3           the interpreter with torch (the GPU machine's plain python3)
#   GPU_CHECK_DATA=GLOB      other shards for the end-to-end runs (default: the staged default data)
#   GPU_CHECK_MIN_ARI=0.99   the least ARI between the levels of the GPU and the CPU training
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root="$PWD"
G=.gpu
out="${OUT:-$G/out}"
dry="${GPU_CHECK_DRY_RUN:-0}"
budget="${GPU_CHECK_BUDGET_S:-450}"
threads="${GPU_CHECK_THREADS:-16}"
py="${PYTHON:-python3}"
min_ari="${GPU_CHECK_MIN_ARI:-0.99}"
min_agreement=0.999
relevance_tolerance=(--rtol 1e-3 --atol-scale 1e-4 --min-share 0.999)
started=$(date +%s)
mkdir -p "$out" || exit 2
work="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")" || exit 2
summary="$out/gpu-check-summary.md"
env_log="$out/env.log" tests_log="$out/tests.log" san_log="$out/sanitizer.log"
e2e_log="$out/e2e.log" bench_log="$out/bench.log" bench_jsonl="$out/bench.jsonl"
steps="$work/steps.tsv"
: > "$steps"
for f in "$env_log" "$tests_log" "$san_log" "$e2e_log" "$bench_log" "$bench_jsonl"; do : > "$f"; done

[[ -d "$G/bin" ]] || { echo "gpu-check: $G/bin missing: run scripts/gpu-bundle.sh here and carry .gpu" >&2; exit 2; }
# Only the staged programs see the staged libraries; python and the NVIDIA tools keep their own.
binenv=(env "LD_LIBRARY_PATH=$root/$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
# libnccl (loaded at run time by the NCCL communicator; too large to carry): the machine's own where
# the loader knows one, else the copy beside PyTorch or the CUDA toolkit.
nccl_dir=""
if ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2'; then
  nccl_roots=$("$py" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null || true)
  # shellcheck disable=SC2086
  nccl_dir=$(find $nccl_roots /usr/local/cuda*/lib* /usr/lib/x86_64-linux-gnu -name 'libnccl.so.2' -print -quit 2>/dev/null |
    xargs -r dirname)
  [[ -n "$nccl_dir" ]] && binenv=(env "LD_LIBRARY_PATH=$root/$G/lib:$nccl_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi
resilinet=("${binenv[@]}" "$root/$G/bin/resilinet")
compare=("$py" "$root/$G/py/gpu_compare.py")
[[ -f "$G/py/gpu_compare.py" ]] || compare=("$py" "$root/scripts/gpu_compare.py")
device=cuda
[[ "$dry" == 1 ]] && device=cpu  # the dry run's stand-in for the GPU runs

# ---- Recording ----
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
remaining() { echo $((budget - ($(date +%s) - started))); }
# cap LIMIT [RESERVE]: the seconds a step may take: LIMIT, or less where the budget left, minus
# RESERVE seconds kept for the later phases, is less.
cap() { local r=$(($(remaining) - ${2:-0})); ((r < $1)) && echo "$r" || echo "$1"; }
at_least_5() { (($1 < 5)) && echo 5 || echo "$1"; }  # timeout 0 would mean no limit
# Seconds kept back for the later phases, in proportion to the budget (at 450 s: 300 while the
# tests run, 250 during the sanitizer, 150 during the end-to-end runs for the benchmarks).
reserve_b=$((budget * 2 / 3)) reserve_c=$((budget * 5 / 9)) reserve_d=$((budget / 3))
# record STEP STATUS SECONDS NOTES (STATUS: pass, fail or skip)
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >> "$steps"
  printf 'gpu-check: %-44s %-4s %6ss  %s\n' "$1" "$2" "$3" "$4"
  write_summary
}
# run_logged LOG SECONDS CMD...: runs CMD under a timeout, output appended to LOG; returns its status
# (124: timed out; 125: no time left in the budget).
run_logged() {
  local log=$1 limit=$2
  shift 2
  printf '\n$ %s\n' "$*" >> "$log"
  if ((limit < 5)); then
    echo "(not run: the time budget of ${budget}s is spent)" >> "$log"
    return 125
  fi
  timeout -k 10 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  ((rc == 124)) && echo "(timed out after ${limit}s)" >> "$log"
  echo "(exit $rc)" >> "$log"
  return $rc
}
why() { case $1 in 124) echo "timed out";; 125) echo "not run: time budget spent";; *) echo "exit $1";; esac; }
json_get() { "$py" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))' "$1" "$2" 2>/dev/null; }

gpu_name="n/a" driver="n/a"
write_summary() {
  local failed total
  failed=$(awk -F'\t' '$2 == "fail"' "$steps" | wc -l)
  total=$(wc -l < "$steps")
  {
    echo "# GPU check"
    echo
    echo "- device: $gpu_name; driver $driver"
    echo "- build: $(cat "$G/COMMIT" 2>/dev/null || echo 'unknown (.gpu/COMMIT missing)')"
    echo "- run: $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n)$([[ "$dry" == 1 ]] && echo ', DRY RUN (no GPU: GPU-only steps skipped, cpu in place of cuda)')"
    echo "- result: $([[ $failed == 0 ]] && echo PASS || echo FAIL) ($failed of $total steps failed; $(($(date +%s) - started)) s of a ${budget} s budget)"
    echo
    echo "| step | status | seconds | key numbers |"
    echo "|---|---|---|---|"
    awk -F'\t' '{ gsub(/\|/, "\\|", $4); printf "| %s | %s | %s | %s |\n", $1, ($2 == "fail" ? "**FAIL**" : $2), $3, $4 }' "$steps"
    if [[ -s "$work/bench.md" ]]; then
      echo
      echo "## Benchmarks (e)"
      echo
      cat "$work/bench.md"
    fi
    echo
    echo "## Criteria"
    echo
    echo "- b: exit 0, at least one test passed, none failed or skipped."
    echo "- c: compute-sanitizer --error-exitcode 1 (memcheck, racecheck) with RESILINET_GPU_TEST_SMALL=1 (memcheck) and =shallow (racecheck: no 16 x 256 networks)."
    echo "- d: GPU training twice: every checkpoint dataset bitwise equal (h5py) and ratings.csv byte-equal;"
    echo "  GPU against CPU training: ARI of the head's levels >= $min_ari (both checkpoints rated on the CPU);"
    echo "  rate cuda against cpu on one checkpoint: level and cluster level equal on >= $min_agreement of cells,"
    echo "  with q and z and with --no-latent (where the CPU skips the encoder for cells without a gap);"
    echo "  explain cuda against cpu: levels equal on >= $min_agreement of cells, and on >= $min_agreement of the"
    echo "  cells with the same seed level every relevance within 1e-4 x max|R| + 1e-3 x |R_cpu|;"
    echo "  train --stop-after then --resume on the GPU: bitwise the uninterrupted GPU run."
    echo "- e: gpu_bench's checks against the CPU kernels pass (gradients, rating outputs, relevance)."
    echo
    echo "Logs beside this file: env.log, tests.log, sanitizer.log, e2e.log, bench.log, bench.jsonl."
  } > "$work/summary.md" && cp "$work/summary.md" "$summary"
}

# Stopped from outside (the device tool's time limit): the summary says so.
trap 'record "interrupted" fail "$(seconds_since "$started")" "signal received; later steps did not run"; rm -rf "$work"; exit 1' TERM INT

# ---- a. Device and environment ----
t=$(now)
status=pass notes=()
{
  echo "# gpu-check environment, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build: $(cat "$G/COMMIT" 2>/dev/null)"
  uname -a
  nproc
} >> "$env_log" 2>&1
if [[ "$dry" == 1 ]]; then
  notes+=("dry run: nvidia-smi skipped")
elif run_logged "$env_log" 30 nvidia-smi; then
  query=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>>"$env_log" | head -1)
  gpu_name=$(echo "$query" | cut -d, -f1 | xargs)
  driver=$(echo "$query" | cut -d, -f2 | xargs)
  notes+=("$gpu_name, driver $driver, $(echo "$query" | cut -d, -f3 | xargs)")
else
  status=fail notes+=("nvidia-smi failed")
fi
# Every library of the staged programs must resolve, from .gpu/lib or the machine's C library.
unresolved=$("${binenv[@]}" ldd "$G"/bin/* 2>&1 | tee -a "$env_log" | grep -E "not found|version .* not found" | sort -u)
if [[ -n "$unresolved" ]]; then
  status=fail notes+=("unresolved libraries: $(echo "$unresolved" | tr '\n' ' ' | cut -c1-200)")
else
  notes+=("staged libraries resolve")
fi
# The tests were compiled with this build machine's paths (RESILINET_SOURCE_DIR, RESILINET_BIN):
# where those do not exist here, link them to this copy.
if [[ -f "$G/PATHS" ]]; then
  src=$(sed -n 's/^source_dir=//p' "$G/PATHS")
  bin=$(sed -n 's/^bin=//p' "$G/PATHS")
  if [[ -n "$src" && "$src" != "$root" && ! -e "$src" ]]; then
    mkdir -p "$(dirname "$src")" 2>>"$env_log" && ln -s "$root" "$src" 2>>"$env_log" &&
      echo "linked $src -> $root" >> "$env_log"
  fi
  if [[ -n "$bin" && ! -e "$bin" && "$bin" == "$src/"* ]]; then
    rel="${bin#"$src"/}"
    mkdir -p "$root/$(dirname "$rel")" 2>>"$env_log" && ln -s "$root/$G/bin/resilinet" "$root/$rel" 2>>"$env_log" &&
      echo "linked $root/$rel -> $G/bin/resilinet" >> "$env_log"
  fi
fi
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
echo "compute-sanitizer: ${sanitizer:-missing}" >> "$env_log"
torch_info=$("$py" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no-cuda")' 2>>"$env_log" || echo "missing")
h5py_info=$("$py" -c 'import h5py; print(h5py.__version__)' 2>/dev/null || echo "missing")
echo "python: $("$py" --version 2>&1); torch $torch_info; h5py $h5py_info" >> "$env_log"
notes+=("torch $torch_info, h5py $h5py_info")
record "a. device and environment" "$status" "$(seconds_since "$t")" "$(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')"

# ---- b. GPU tests ----
shopt -s nullglob
tests=("$G"/bin/cuda_*_test)
shopt -u nullglob
gtest_counts() {  # passed skipped failed, from a GoogleTest log
  local log=$1
  printf '%s %s %s\n' \
    "$(grep -oE '^\[  PASSED  \] [0-9]+ test' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)" \
    "$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)" \
    "$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)"
}
if [[ ${#tests[@]} == 0 ]]; then
  record "b. GPU tests" fail 0 "no cuda_*_test in $G/bin (none in tests/ when the bundle was built)"
fi
for test in "${tests[@]}"; do
  name=$(basename "$test")
  t=$(now)
  one="$work/$name.log"
  run_logged "$one" "$(cap 120 $reserve_b)" "${binenv[@]}" "$test" --gtest_color=no
  rc=$?
  cat "$one" >> "$tests_log"
  read -r passed skipped failed < <(gtest_counts "$one")
  status=pass
  ((rc != 0 || passed == 0 || failed > 0)) && status=fail
  [[ "$dry" != 1 ]] && ((skipped > 0)) && status=fail
  [[ "$dry" == 1 && $status == fail && $rc == 0 ]] && status=skip  # no device: everything skips
  record "b. $name" "$status" "$(seconds_since "$t")" "$passed passed, $skipped skipped, $failed failed ($(why $rc))"
done

# ---- c. compute-sanitizer ----
if [[ "$dry" == 1 ]]; then
  record "c. compute-sanitizer" skip 0 "dry run"
elif [[ -z "$sanitizer" ]]; then
  record "c. compute-sanitizer" fail 0 "compute-sanitizer not found"
else
  # racecheck slows shared-memory work most: it runs the shallow networks only (global memory,
  # where the deep ones spill, is memcheck's).
  declare -A small=([memcheck]=1 [racecheck]=shallow)
  for test in "${tests[@]}"; do
    for tool in memcheck racecheck; do
      name=$(basename "$test")
      t=$(now)
      one="$work/$name.$tool.log"
      # --target-processes all: the sanitizer follows env into the test, and only the test sees
      # the staged libraries.
      run_logged "$one" "$(cap 100 $reserve_c)" "$sanitizer" --tool "$tool" --error-exitcode 1 \
        --target-processes all --print-limit 20 "${binenv[@]}" RESILINET_GPU_TEST_SMALL="${small[$tool]}" \
        "$test" --gtest_color=no
      rc=$?
      cat "$one" >> "$san_log"
      read -r passed skipped failed < <(gtest_counts "$one")
      line=$(grep -E '(ERROR|RACECHECK) SUMMARY' "$one" | tail -1 | sed 's/^=* *//')
      status=pass
      ((rc != 0 || passed == 0 || skipped > 0)) && status=fail
      record "c. $tool $name" "$status" "$(seconds_since "$t")" "${line:-no sanitizer summary}; $passed passed, $skipped skipped ($(why $rc))"
    done
  done
fi

# ---- d. End to end ----
data="${GPU_CHECK_DATA:-$root/$G/data/default/*.h5}"  # a glob of shards
runs="$work/runs"
mkdir -p "$runs"
has_device_flag() { "${resilinet[@]}" "$1" --help 2>/dev/null | grep -q -- '--device'; }
# The commands, built into the array cmd (run_logged runs programs, not shell functions).
# train_cmd DEVICE RUN_DIR [ARGS...]: --device where train has it, else a copy of the default config
# with run.device set.
train_cmd() {
  local dev=$1 dir=$2
  shift 2
  if has_device_flag train; then
    cmd=("${resilinet[@]}" train --data "$data" --run-dir "$dir" --threads "$threads" --device "$dev" --quiet "$@")
  else
    sed -E "s/^([[:space:]]*device:[[:space:]]*)[a-z]+/\1$dev/" "$G/configs/default.yaml" > "$work/config-$dev.yaml"
    cmd=("${resilinet[@]}" train --config "$work/config-$dev.yaml" --data "$data" --run-dir "$dir" --threads "$threads" --quiet "$@")
  fi
}
# --device DEVICE for rate and explain, left out for cpu where the command has no such flag.
add_device() {  # add_device COMMAND DEVICE
  if [[ "$2" != cpu ]] || has_device_flag "$1"; then cmd+=(--device "$2"); fi
}
rate_cmd() {  # rate_cmd DEVICE RUN_DIR OUT_DIR
  cmd=("${resilinet[@]}" rate --checkpoint "$2/checkpoint.h5" --data "$data" --out "$3" --format csv --quiet)
  add_device rate "$1"
}
explain_cmd() {  # explain_cmd DEVICE RUN_DIR OUT_DIR
  cmd=("${resilinet[@]}" explain --checkpoint "$2/checkpoint.h5" --data "$data" --out "$3" --quiet)
  add_device explain "$1"
}
metrics_of() {  # the key numbers of a finished run
  local m
  m=$("${compare[@]}" metrics "$1/metrics.json" 2>/dev/null) || { echo "no metrics.json"; return; }
  echo "ARI vs planted $(json_get "$m" 'f"{ari_planted:.4f}"'), head macro-F1 $(json_get "$m" 'f"{classifier_macro_f1:.4f}"')"
}
declare -A done_ok=()  # the runs that finished
train_step() {  # train_step KEY STEP DEVICE
  local key=$1 step=$2 dev=$3 t rc
  t=$(now)
  train_cmd "$dev" "$runs/$key"
  run_logged "$e2e_log" "$(cap 300 $reserve_d)" "${cmd[@]}"
  rc=$?
  if ((rc == 0)); then
    done_ok[$key]=1
    record "$step" pass "$(seconds_since "$t")" "$(metrics_of "$runs/$key")"
  else
    record "$step" fail "$(seconds_since "$t")" "train on $dev: $(why $rc)"
  fi
}
for cmd in train rate explain; do
  has_device_flag "$cmd" && echo "$cmd: has --device" >> "$e2e_log" || echo "$cmd: NO --device flag" >> "$e2e_log"
done
train_step gpu1 "d1. train on $device" "$device"
train_step gpu2 "d2. train on $device again" "$device"
train_step cpu "d3. train on cpu ($threads threads)" cpu

rated() {  # rated KEY DEVICE: ratings.csv of run KEY rated on DEVICE (rates once), empty on failure
  local dir="$runs/rate-$1-$2"
  if [[ ! -f "$dir/ratings.csv" && -n "${done_ok[$1]:-}" ]]; then
    rate_cmd "$2" "$runs/$1" "$dir"
    run_logged "$e2e_log" "$(cap 120 $reserve_d)" "${cmd[@]}" || rm -rf "$dir"
  fi
  [[ -f "$dir/ratings.csv" ]] && echo "$dir/ratings.csv"
}

# d4. GPU against CPU training: both checkpoints rated on the CPU, so only training differs.
t=$(now)
a=$(rated cpu cpu) b=$(rated gpu1 cpu)
if [[ -n "$a" && -n "$b" ]]; then
  j=$("${compare[@]}" ratings "$a" "$b" --min-ari "$min_ari" 2>>"$e2e_log"); rc=$?
  echo "ratings cpu-trained vs $device-trained: $j" >> "$e2e_log"
  record "d4. levels, $device vs cpu training" "$([[ $rc == 0 ]] && echo pass || echo fail)" "$(seconds_since "$t")" \
    "ARI level $(json_get "$j" 'f"{level_ari:.4f}"') (>= $min_ari), cluster level $(json_get "$j" 'f"{cluster_level_ari:.4f}"'); same level $(json_get "$j" 'f"{100*level_agreement:.2f}"')%"
else
  record "d4. levels, $device vs cpu training" fail "$(seconds_since "$t")" "needs d1 and d3 and their ratings"
fi

# same_run A B: the checkpoints of runs A and B (every dataset, with h5py) and their ratings.csv on
# $device, bitwise; sets status (pass or fail) and same_notes.
same_run() {
  local a b j crc same_csv=1 csv_note="DIFFER" ck
  j=$("${compare[@]}" checkpoints "$runs/$1/checkpoint.h5" "$runs/$2/checkpoint.h5" 2>>"$e2e_log"); crc=$?
  echo "checkpoints $1 vs $2: $j" >> "$e2e_log"
  a=$(rated "$1" "$device") b=$(rated "$2" "$device")
  [[ -n "$a" && -n "$b" ]] && cmp -s "$a" "$b" && same_csv=0
  [[ -z "$a" || -z "$b" ]] && csv_note="not compared (a rating did not run: e2e.log)"
  if ((crc == 3)); then ck="checkpoints not compared (h5py missing)"; else ck="checkpoint datasets $([[ $crc == 0 ]] && echo equal || echo "DIFFER: $(json_get "$j" 'differ')")"; fi
  status=fail
  ((same_csv == 0 && (crc == 0 || crc == 3))) && status=pass
  same_notes="$ck; ratings.csv $([[ $same_csv == 0 ]] && echo identical || echo "$csv_note")"
}

# d5. Two GPU trainings: bitwise the same.
t=$(now)
if [[ -n "${done_ok[gpu1]:-}" && -n "${done_ok[gpu2]:-}" ]]; then
  same_run gpu1 gpu2
  record "d5. $device training twice, bitwise" "$status" "$(seconds_since "$t")" "$same_notes"
else
  record "d5. $device training twice, bitwise" fail "$(seconds_since "$t")" "needs d1 and d2"
fi

# d6. rate: cuda against cpu on the same checkpoint.
t=$(now)
if ! has_device_flag rate; then
  record "d6. rate $device vs cpu" fail 0 "rate has no --device"
else
  a=$(rated gpu1 cpu) b=$(rated gpu1 "$device")
  if [[ -n "$a" && -n "$b" ]]; then
    j=$("${compare[@]}" ratings "$a" "$b" --min-agreement "$min_agreement" 2>>"$e2e_log"); rc=$?
    echo "rate cpu vs $device: $j" >> "$e2e_log"
    record "d6. rate $device vs cpu" "$([[ $rc == 0 ]] && echo pass || echo fail)" "$(seconds_since "$t")" \
      "same level $(json_get "$j" 'f"{100*level_agreement:.3f}"')%, cluster level $(json_get "$j" 'f"{100*cluster_level_agreement:.3f}"')% (>= $(awk -v m=$min_agreement 'BEGIN{print 100*m}')%); max|dp| $(json_get "$j" 'f"{max_abs_dp:.2e}"'), max|dz| $(json_get "$j" 'f"{max_abs_dz:.2e}"')"
  else
    record "d6. rate $device vs cpu" fail "$(seconds_since "$t")" "needs d1 and both ratings"
  fi
fi

# d6b. rate --no-latent: cuda against cpu (the CPU then encodes only the cells with a gap).
t=$(now)
if ! has_device_flag rate || [[ -z "${done_ok[gpu1]:-}" ]]; then
  record "d6b. rate --no-latent $device vs cpu" fail 0 "needs d1 and rate --device"
else
  ok=1
  for dev in cpu "$device"; do
    rate_cmd "$dev" "$runs/gpu1" "$runs/rate-lean-$dev"
    cmd+=(--no-latent)
    run_logged "$e2e_log" "$(cap 120 $reserve_d)" "${cmd[@]}" || ok=0
  done
  if ((ok)); then
    j=$("${compare[@]}" ratings "$runs/rate-lean-cpu/ratings.csv" "$runs/rate-lean-$device/ratings.csv" \
      --min-agreement "$min_agreement" 2>>"$e2e_log"); rc=$?
    echo "rate --no-latent cpu vs $device: $j" >> "$e2e_log"
    record "d6b. rate --no-latent $device vs cpu" "$([[ $rc == 0 ]] && echo pass || echo fail)" "$(seconds_since "$t")" \
      "same level $(json_get "$j" 'f"{100*level_agreement:.3f}"')%, cluster level $(json_get "$j" 'f"{100*cluster_level_agreement:.3f}"')%; max|dp| $(json_get "$j" 'f"{max_abs_dp:.2e}"')"
  else
    record "d6b. rate --no-latent $device vs cpu" fail "$(seconds_since "$t")" "a rating did not run: e2e.log"
  fi
fi

# d7. explain: cuda against cpu on the same checkpoint.
t=$(now)
if ! has_device_flag explain; then
  record "d7. explain $device vs cpu" fail 0 "explain has no --device"
elif [[ -z "${done_ok[gpu1]:-}" ]]; then
  record "d7. explain $device vs cpu" fail 0 "needs d1"
else
  ok=1
  for dev in cpu "$device"; do
    explain_cmd "$dev" "$runs/gpu1" "$runs/explain-$dev"
    run_logged "$e2e_log" "$(cap 180 $reserve_d)" "${cmd[@]}" || ok=0
  done
  if ((ok)); then
    j=$("${compare[@]}" relevance "$runs/explain-cpu/relevance.csv" "$runs/explain-$device/relevance.csv" \
      "${relevance_tolerance[@]}" 2>>"$e2e_log"); rc=$?
    echo "relevance cpu vs $device: $j" >> "$e2e_log"
    record "d7. explain $device vs cpu" "$([[ $rc == 0 ]] && echo pass || echo fail)" "$(seconds_since "$t")" \
      "same level $(json_get "$j" 'f"{100*level_agreement:.3f}"')%; within tolerance $(json_get "$j" 'f"{100*cells_within_tolerance:.3f}"')% of cells; max|dR| $(json_get "$j" 'f"{max_abs_diff:.2e}"') = $(json_get "$j" 'f"{max_rel_diff:.1e}"') of max|R|"
  else
    record "d7. explain $device vs cpu" fail "$(seconds_since "$t")" "explain failed (e2e.log)"
  fi
fi

# d8. Resume on the GPU: stop inside pretraining, resume, compare with the uninterrupted run.
t=$(now)
if [[ -z "${done_ok[gpu1]:-}" ]]; then
  record "d8. $device train --resume" fail 0 "needs d1"
else
  stop=pretrain:10
  train_cmd "$device" "$runs/resume" --stop-after "$stop"
  run_logged "$e2e_log" "$(cap 300 $reserve_d)" "${cmd[@]}"; rc=$?
  if ((rc == 2)); then  # the epoch is not a checkpoint under this config: stop at the stage end
    stop=pretrain
    rm -rf "$runs/resume"
    train_cmd "$device" "$runs/resume" --stop-after "$stop"
    run_logged "$e2e_log" "$(cap 300 $reserve_d)" "${cmd[@]}"; rc=$?
  fi
  if ((rc == 0)); then
    train_cmd "$device" "$runs/resume" --resume
    run_logged "$e2e_log" "$(cap 300 $reserve_d)" "${cmd[@]}"; rc=$?
  fi
  if ((rc == 0)); then
    done_ok[resume]=1
    same_run gpu1 resume
    record "d8. $device train --resume" "$status" "$(seconds_since "$t")" "--stop-after $stop, then --resume, against d1: $same_notes"
  else
    record "d8. $device train --resume" fail "$(seconds_since "$t")" "--stop-after $stop / --resume: $(why $rc)"
  fi
fi

# d9. The NCCL communicator with one GPU (world size 1) in a training: the same run as d1.
t=$(now)
if [[ -z "${done_ok[gpu1]:-}" || "$dry" == 1 ]]; then
  record "d9. $device train over NCCL, 1 GPU" skip 0 "$([[ "$dry" == 1 ]] && echo "dry run" || echo "needs d1")"
else
  train_cmd "$device" "$runs/nccl"
  cmd=(env RESILINET_COMMUNICATOR=nccl "${cmd[@]}")
  run_logged "$e2e_log" "$(cap 300 $reserve_d)" "${cmd[@]}"; rc=$?
  if ((rc == 0)); then
    done_ok[nccl]=1
    same_run gpu1 nccl
    record "d9. $device train over NCCL, 1 GPU" "$status" "$(seconds_since "$t")" "libnccl from ${nccl_dir:-the system library path}; against d1: $same_notes"
  else
    record "d9. $device train over NCCL, 1 GPU" fail "$(seconds_since "$t")" "$(why $rc)"
  fi
fi

# ---- e. Benchmarks ----
t=$(now)
ours="$work/ours.jsonl" peer="$work/peer.jsonl"
: > "$ours"; : > "$peer"
notes=()
printf '\n$ gpu_bench\n' >> "$bench_log"
timeout -k 10 "$(at_least_5 "$(cap 180)")" "${binenv[@]}" "$G/bin/gpu_bench" > "$ours" 2>> "$bench_log"
rc=$?
echo "(exit $rc)" >> "$bench_log"
cat "$ours" >> "$bench_log"
peer_args=()
[[ "${GPU_CHECK_NO_COMPILE:-0}" == 1 ]] && peer_args+=(--no-compile)
if [[ "$dry" == 1 ]]; then
  status=skip
  notes+=("dry run: gpu_bench $(why $rc): $(head -c 120 "$ours")")
  peer_args+=(--device cpu --rows 65536 --train-rows 4096 --repeats 3 --no-compile)
else
  status=pass
  ((rc != 0)) && status=fail && notes+=("gpu_bench $(why $rc)")
fi
peer_script="$root/$G/py/peer_torch_gpu.py"
[[ -f "$peer_script" ]] || peer_script="$root/bench/peer_torch_gpu.py"
if [[ "$torch_info" == missing ]]; then
  notes+=("torch missing: no peer")
  [[ "$dry" != 1 ]] && status=fail
else
  # torch.compile takes a while (cold caches): without 150 s left in the budget, eager only.
  (($(remaining) < 150)) && peer_args+=(--no-compile) && notes+=("peer eager only (time budget)")
  printf '\n$ peer_torch_gpu.py %s\n' "${peer_args[*]}" >> "$bench_log"
  PYTHONUNBUFFERED=1 timeout -k 10 "$(at_least_5 "$(cap 300)")" "$py" "$peer_script" "${peer_args[@]}" > "$peer" 2>> "$bench_log"
  prc=$?
  echo "(exit $prc)" >> "$bench_log"
  cat "$peer" >> "$bench_log"
  if ((prc != 0)); then
    notes+=("peer $(why $prc)")
    [[ "$dry" != 1 ]] && status=fail
  fi
fi
cat "$ours" "$peer" > "$bench_jsonl"
"${compare[@]}" bench "$ours" "$peer" --markdown > "$work/bench.md" 2>> "$bench_log"
j=$("${compare[@]}" bench "$ours" "$peer" 2>> "$bench_log"); brc=$?
[[ "$dry" != 1 ]] && ((brc != 0)) && status=fail
ratios=$(json_get "$j" 'summary')
record "e. benchmarks" "$status" "$(seconds_since "$t")" "$(IFS=';'; echo "${ratios:-no resilinet timings};${notes[*]}" | sed 's/;/; /g; s/; *$//')"

# ---- Done ----
write_summary
rm -rf "$work"
if grep -q '^- result: PASS' "$summary"; then
  echo "gpu-check: PASS; summary in $summary"
  exit 0
fi
echo "gpu-check: FAIL; summary in $summary"
exit 1
