#!/usr/bin/env bash
# Builds the CUDA backend here (no GPU needed) and stages into .gpu/ everything that
# scripts/gpu-check.sh needs on the GPU machine, which has no HDF5, yaml-cpp or fmt and no network:
# bin/ (resilinet, gpu_bench, every cuda_*_test, stripped), lib/ (the shared libraries they load,
# except glibc's and the NVIDIA driver's), py/ (the comparison and peer scripts), configs/, the
# default data (data/default, from `resilinet synth` with its defaults) and COMMIT. Idempotent:
# .gpu/ is rebuilt from scratch on every run, build-gpu/ is reused. Prints what travels.
#
#   scripts/gpu-bundle.sh            then, on the GPU machine: bash scripts/gpu-check.sh (carry .gpu)
#   CUDA_ARCHS=90 (default; H100/H200)  JOBS=N (default: all cores)  BUILD_DIR=build-gpu
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
build="${BUILD_DIR:-build-gpu}"
archs="${CUDA_ARCHS:-90}"
jobs="${JOBS:-$(nproc)}"
stage=.gpu
limit_mib=64  # what the device tool carries: working tree and carried paths together

say() { printf 'gpu-bundle: %s\n' "$*"; }
die() { printf 'gpu-bundle: %s\n' "$*" >&2; exit 1; }

# ---- Build ----
# CMake before 3.26 knows no C++20 flag for nvcc and refuses to generate; name the flag for it (a
# newer CMake sets its own and ignores these).
say "configuring $build (CUDA architectures $archs)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRESILINET_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$archs" \
  -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20 \
  -DRESILINET_TESTS=ON -DRESILINET_BENCH=ON > "$build.configure.log" 2>&1 ||
  { tail -30 "$build.configure.log" >&2; die "configure failed (log: $build.configure.log)"; }
rm -f "$build.configure.log"

shopt -s nullglob
cuda_tests=()
for src in tests/cuda_*_test.cpp; do cuda_tests+=("$(basename "$src" .cpp)"); done
shopt -u nullglob
[[ ${#cuda_tests[@]} -gt 0 ]] || say "warning: no tests/cuda_*_test.cpp; the GPU check will report the tests as missing"
targets=(resilinet gpu_bench "${cuda_tests[@]}")
say "building ${targets[*]} with $jobs jobs"
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# ---- Stage ----
rm -rf "$stage"
mkdir -p "$stage"/{bin,lib,py,configs,data}
cp "$build/resilinet" "$build/bench/gpu_bench" "$stage/bin/"
for t in "${cuda_tests[@]}"; do cp "$build/tests/$t" "$stage/bin/"; done
strip --strip-unneeded "$stage"/bin/*

# Every shared library the binaries load, except the C library and loader family (they must match
# the machine's kernel and loader) and the NVIDIA driver (libcuda, libnvidia-*: the machine's own).
# libstdc++, libgcc_s and libgomp travel: the build's versions are what the binaries need.
is_system_lib() {
  case "$1" in
    linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|\
    libutil.so*|libanl.so*|libnsl.so*|libBrokenLocale.so*|libnss_*|libmvec.so*|libcuda.so*|libnvidia*)
      return 0 ;;
  esac
  return 1
}
declare -A copied=()
for bin in "$build/resilinet" "$build/bench/gpu_bench" "${cuda_tests[@]/#/$build/tests/}"; do
  while read -r name arrow path _; do
    [[ "$arrow" == "=>" ]] || continue
    is_system_lib "$name" && continue
    [[ "$path" == "not" ]] && die "$bin: $name not found by ldd here"
    [[ -n "${copied[$name]:-}" ]] && continue
    cp -L "$path" "$stage/lib/$name"
    copied[$name]=1
  done < <(ldd "$bin")
done
chmod u+w "$stage"/lib/* 2>/dev/null || true
strip --strip-unneeded "$stage"/lib/* 2>/dev/null || true

cp scripts/gpu_compare.py bench/peer_torch_gpu.py "$stage/py/"
cp configs/default.yaml "$stage/configs/"

# The paths compiled into the tests (RESILINET_SOURCE_DIR, RESILINET_BIN): gpu-check.sh links them
# to the copy on the GPU machine when they do not exist there.
printf 'source_dir=%s\nbin=%s\n' "$root" "$root/$build/resilinet" > "$stage/PATHS"

# The default data, written by the staged binary with the staged libraries (this also checks that
# .gpu/lib is complete: the C library aside, nothing is loaded from this machine).
say "synthesising the default data into $stage/data/default"
LD_LIBRARY_PATH="$root/$stage/lib" "$stage/bin/resilinet" synth --out "$stage/data/default" > "$stage/data/synth.log" 2>&1 ||
  { cat "$stage/data/synth.log" >&2; die "synth failed"; }
for bin in "$stage"/bin/*; do
  while read -r name arrow path _; do
    [[ "$arrow" == "=>" ]] || continue
    is_system_lib "$name" || [[ "$path" == "$root/$stage/lib/"* ]] ||
      die "$bin: $name resolves to $path, not to $stage/lib"
  done < <(LD_LIBRARY_PATH="$root/$stage/lib" ldd "$bin")
done

# What was built: the commit, and whether the working tree differed from it.
{
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  changed=$(git status --porcelain 2>/dev/null | grep -vc '^!!' || true)
  printf '%s' "$commit"
  [[ "$changed" != 0 ]] && printf ' + working tree (%s paths changed or untracked)' "$changed"
  nvcc_version=$(sed -n 's/^set(CMAKE_CUDA_COMPILER_VERSION "\(.*\)")$/\1/p' "$build"/CMakeFiles/*/CMakeCUDACompiler.cmake | tail -1)
  printf '; built %s on %s; CUDA architectures %s; nvcc %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(uname -n)" \
    "$archs" "${nvcc_version:-unknown}"
} > "$stage/COMMIT"

# ---- Size ----
bundle_bytes=$(du -sb "$stage" | cut -f1)
tree_bytes=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
say "staged: $(du -sh "$stage"/bin | cut -f1) bin, $(du -sh "$stage"/lib | cut -f1) lib ($(ls "$stage"/lib | wc -l) libraries), $(du -sh "$stage"/data | cut -f1) data"
say "bundle $((bundle_bytes / 1048576)) MiB + working tree $((tree_bytes / 1048576)) MiB = $(((bundle_bytes + tree_bytes) / 1048576)) MiB of the ${limit_mib} MiB the device tool carries"
(( bundle_bytes + tree_bytes < limit_mib * 1048576 * 9 / 10 )) || die "over 90% of the ${limit_mib} MiB limit"
say "commit: $(cat "$stage/COMMIT")"
say "next, on the GPU machine: bash scripts/gpu-check.sh   (device tool: carry [\".gpu\"])"
