#include "trainer/distributed/communicator.hpp"
#include "trainer/distributed/tile_tree_plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace resilinet {

// mpi_communicator.cpp: the MPI communicator, or nullptr in a build without MPI.
std::unique_ptr<Communicator> make_mpi_communicator();
#if RESILINET_HAVE_NCCL
// nccl_communicator.cu.
std::unique_ptr<Communicator> make_nccl_communicator(void* cuda_stream);
#else
bool nccl_available() { return false; }
std::unique_ptr<Communicator> make_nccl_communicator(void*) { return nullptr; }
#endif

void LocalCommunicator::sum_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count,
                                      float* out, double*) {  // one rank's scalar is its sum
  const TileTreePlan plan = plan_tile_tree(tiles_per_rank, 1, "sum_tile_tree");
  if (count == 0) return;
  std::vector<float> nodes(plan.nodes.size() * count);
  kernels::TileTreeScratch scratch;
  cover_sums(plan, 0, tiles, count, nodes.data(), scratch);
  combine_nodes(plan, nodes.data(), count, out, scratch);
}

void LocalCommunicator::allgather(const void* data, size_t bytes, void* out) {
  if (bytes && out != data) std::memmove(out, data, bytes);
}

void LocalCommunicator::broadcast(void*, size_t, int root) {
  if (root != 0) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " of a world of 1");
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(name); v && *v) return true;
  return false;
}

namespace {
bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}
}  // namespace

std::unique_ptr<Communicator> make_communicator(const std::string& requested, void* cuda_stream) {
  const std::string kind =
      requested == "auto" && env_set("RESILINET_COMMUNICATOR") ? std::getenv("RESILINET_COMMUNICATOR") : requested;
  if (kind == "local") return std::make_unique<LocalCommunicator>();
  const bool several = launched_by_mpi() || env_set("RESILINET_NCCL_ID_FILE");
  if (kind == "nccl" || (kind == "auto" && cuda_stream && several && nccl_available())) {
    std::unique_ptr<Communicator> nccl = make_nccl_communicator(cuda_stream);
    if (!nccl) throw CommunicatorUnavailable("this build has no NCCL (it needs the CUDA toolkit's nccl.h and libnccl)");
    return nccl;
  }
  if (kind == "mpi" || (kind == "auto" && launched_by_mpi() && mpi_available())) {
    std::unique_ptr<Communicator> mpi = make_mpi_communicator();
    if (!mpi) throw CommunicatorUnavailable("this build has no MPI (configure with -DRESILINET_MPI=ON and libopenmpi-dev)");
    return mpi;
  }
  if (kind == "auto") return std::make_unique<LocalCommunicator>();
  throw std::invalid_argument("communicator '" + kind + "': expected local, mpi, nccl or auto");
}

}  // namespace resilinet
