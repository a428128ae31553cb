#!/usr/bin/env bash
# Installs every Debian package that resilinet's build, tests, benchmarks and report rendering need
# (clang and libclang-rt-14-dev: the sanitizer and libFuzzer build, scripts/asan-build.sh; chromium:
# the headless browser that tests/report_browser_test.cpp loads report.html in; libpng: the report's
# raster maps; libssl: SHA-256 and base64).
# Idempotent and non-interactive; safe to run again. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libhdf5-dev hdf5-tools
  libpng-dev libssl-dev zlib1g-dev
  libyaml-cpp-dev libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libomp-dev
  openmpi-bin libopenmpi-dev
  slurm-wlm munge
  python3 python3-numpy python3-h5py python3-matplotlib
  clang libclang-rt-14-dev
  chromium
)
# Peer benchmarks only (large); opt in with RESILINET_BENCH_DEPS=1.
if [[ "${RESILINET_BENCH_DEPS:-0}" == "1" ]]; then
  # A real BLAS for PyTorch: with the reference BLAS it runs 2-3x slower and the ratios would flatter us.
  packages+=(python3-torch python3-sklearn hyperfine libopenblas0-pthread)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
