#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz/ for a given time each, starting from their seed corpora
# (tests/fuzz/corpus/<harness>/, copied to a scratch folder: the repository is not modified).
#   scripts/fuzz.sh SECONDS [HARNESS...]      (no harness: all of them)
# Builds build-asan when needed (scripts/asan-build.sh). Each harness runs in libFuzzer's fork mode,
# which goes on after a crash, so one run reports every crash it finds. Crash, timeout, out-of-memory
# and leak inputs are kept in FINDINGS/<harness>/ (default build-asan/fuzz-findings, or
# $RESILINET_FUZZ_FINDINGS); reproduce one with `build-asan/tests/fuzz/<harness> FILE`.
# Exits 1 if any harness found a crash, timeout, out-of-memory input or leak.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
usage="usage: scripts/fuzz.sh SECONDS [HARNESS...]"
seconds=${1:?$usage}
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "$usage" >&2; exit 2; }
shift
build=$(realpath -m "${RESILINET_ASAN_BUILD:-build-asan}")
all=(fuzz_config fuzz_schema fuzz_scenario fuzz_csv_ingest fuzz_shard fuzz_checkpoint)
harnesses=("$@")
((${#harnesses[@]})) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [[ -d tests/fuzz/corpus/$h && -f tests/fuzz/$h.cpp ]] || { echo "fuzz: unknown harness $h (known: ${all[*]})" >&2; exit 2; }
done

bash scripts/asan-build.sh "${harnesses[@]}"

findings=$(realpath -m "${RESILINET_FUZZ_FINDINGS:-$build/fuzz-findings}")
work=$(mktemp -d "${TMPDIR:-/tmp}/resilinet-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# max_allocation_size_mb + allocator_may_return_null: a malloc over 2 GiB returns NULL, as in the
# file probe's child under its memory cap (datasets/untrusted_file.cpp), so HDF5 fails on a corrupt
# size field as it does in production; a C++ allocation that large is still a crash (operator new
# aborts), and libFuzzer still reports a process over -rss_limit_mb as out of memory.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=2048:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizer/lsan.supp:print_suppressions=0"
# The shard and checkpoint readers first read a file's metadata in a child process with an alarm
# (datasets/untrusted_file.cpp); it must give up before libFuzzer's -timeout=10 counts a hang.
export RESILINET_FILE_PROBE_SECONDS=5

# Largest input per harness: the HDF5 ones need room for the structural mutations.
max_len() {
  case $1 in
    fuzz_shard | fuzz_checkpoint) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

failed=0
summary=()
for h in "${harnesses[@]}"; do
  mkdir -p "$work/$h/corpus" "$work/$h/tmp" "$findings/$h"
  touch "$work/$h/started"
  cp -R "tests/fuzz/corpus/$h/." "$work/$h/corpus/"
  dict=()
  [[ -f tests/fuzz/$h.dict ]] && dict=("-dict=$root/tests/fuzz/$h.dict")
  log=$findings/$h/fuzz.log
  echo "fuzz: $h for ${seconds}s (log $log)"
  rc=0
  TMPDIR=$work/$h/tmp "$build/tests/fuzz/$h" "$work/$h/corpus" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$h")" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix="$findings/$h/" -print_final_stats=1 -print_funcs=0 > "$log" 2>&1 || rc=$?
  # Executions: fork mode's last status line "#N: cov: ..."; a plain run's final stats otherwise.
  execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
  stat=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$' || true)
  [[ -n "$stat" ]] && execs=$stat
  count() { find "$findings/$h" -maxdepth 1 -type f -name "$1-*" ! -name '*.txt' -newer "$work/$h/started" | wc -l; }
  crashes=$(count crash) timeouts=$(count timeout) ooms=$(count oom) leaks=$(count leak)
  line="$h: ${execs:-?} executions, crashes $crashes, timeouts $timeouts, out-of-memory $ooms, leaks $leaks"
  if ((crashes + timeouts + ooms + leaks > 0)); then
    failed=1
    line+=" -> inputs in $findings/$h/"
    # Fork mode keeps the inputs but not the reports: run each new one again, report to INPUT.txt.
    while IFS= read -r input; do
      TMPDIR=$work/$h/tmp timeout 120 "$build/tests/fuzz/$h" "$input" -rss_limit_mb=2048 \
        -artifact_prefix="$work/$h/tmp/" > "$input.txt" 2>&1 || true
      echo "fuzz: $h: $input"
      grep -m 1 -E 'DEFECT|ERROR:|runtime error:' "$input.txt" | sed 's/^/    /' || echo "    (no report when run alone; see $input.txt)"
      grep -E '^ +#[0-9]+ .* in resilinet::' "$input.txt" | head -n 3 | sed 's/^ */      /' || true
    done < <(find "$findings/$h" -maxdepth 1 -type f -regex '.*/\(crash\|timeout\|oom\|leak\)-[0-9a-f]*' -newer "$work/$h/started")
  elif ((rc != 0)); then
    failed=1
    line+=" -> the fuzzer exited with $rc (see $log)"
  fi
  summary+=("$line")
  echo "fuzz: $line"
done
echo "fuzz: summary (${seconds}s per harness)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
