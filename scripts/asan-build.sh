#!/usr/bin/env bash
# Configures (once) and builds the sanitizer + fuzzing build: clang, AddressSanitizer and
# UndefinedBehaviorSanitizer on every target, the libFuzzer harnesses of tests/fuzz/, no CUDA, no
# benchmarks. scripts/sanitize-check.sh runs the test suite in it and scripts/fuzz.sh the fuzzers.
#   scripts/asan-build.sh [TARGET...]     (no target: everything)
# RESILINET_ASAN_BUILD names the build folder (default build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RESILINET_ASAN_BUILD:-build-asan}
for tool in clang clang++; do
  command -v "$tool" > /dev/null || { echo "asan-build: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
# Configured every time (quick once cached), so that a harness or test added since is a target.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRESILINET_CUDA=OFF \
    -DRESILINET_SANITIZE=ON -DRESILINET_FUZZ=ON -DRESILINET_BENCH=OFF
else
  cmake -S . -B "$build" > /dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
