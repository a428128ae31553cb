# Sourced by the bench/run_*_peer.sh scripts: the peers must run on an optimised BLAS. Debian's
# reference BLAS makes PyTorch's and scikit-learn's products 2-3x slower and would inflate every
# ratio (it did, in the first training tables of bench/RESULTS.md). Prints the BLAS in use; exits
# 2 on the reference one unless PEER_ALLOW_REFERENCE_BLAS=1.
# The scripts also set OPENBLAS_NUM_THREADS with the thread count: OpenBLAS keeps a thread pool of
# its own beside torch.set_num_threads, and a 1-thread peer ran its products on two.
peer_blas_check() {
  local link blas
  link=$(compgen -G '/etc/alternatives/libblas.so.3-*' | head -n 1 || true)
  blas=$(readlink -f "${link:-/usr/lib/libblas.so.3}" 2> /dev/null || true)
  echo "peer BLAS: ${blas:-none found}"
  case "$blas" in
    *openblas* | *blis* | *mkl* | *atlas*) ;;
    *)
      if [[ "${PEER_ALLOW_REFERENCE_BLAS:-0}" != 1 ]]; then
        echo "$(basename "$0"): the peers' BLAS (${blas:-none found}) is not an optimised one;" \
          "install libopenblas0-pthread (RESILINET_BENCH_DEPS=1 scripts/install-deps.sh)," \
          "or set PEER_ALLOW_REFERENCE_BLAS=1 to measure anyway" >&2
        exit 2
      fi
      ;;
  esac
}
