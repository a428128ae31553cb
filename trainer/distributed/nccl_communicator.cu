// The NCCL communicator: GPU ranks, one per device. Sums take buffers in the CUDA backend's device
// memory and are queued on its stream, so a training step never waits for the host. They are made
// as the MPI communicator makes them (each element summed by one rank, in rank order, then shared)
// from point-to-point sends, a fold kernel and an all-gather, so a given world size repeats bitwise
// whatever reduction algorithm NCCL would have chosen.
//
// The NCCL id goes from rank 0 to the others over MPI when an MPI launcher started the job, or
// through a file on shared storage (RESILINET_NCCL_ID_FILE; rank and world from SLURM_PROCID and
// SLURM_NTASKS) where Slurm has no PMIx. allgather, broadcast and barrier take host memory and pass
// it through the device.
#include "trainer/distributed/communicator.hpp"
#include "trainer/distributed/tile_tree_plan.hpp"

#include <cuda_runtime.h>
#include <nccl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace resilinet {

std::unique_ptr<Communicator> make_mpi_communicator();

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
// NCCL is loaded when a job first asks for it (libnccl.so.2, found as the dynamic loader finds
// libraries: LD_LIBRARY_PATH, the cache), not linked: the binary then runs where NCCL is absent,
// and only a job of GPU ranks needs it.
struct NcclApi {
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclGroupStart) group_start = nullptr;
  decltype(&ncclGroupEnd) group_end = nullptr;
  decltype(&ncclSend) send = nullptr;
  decltype(&ncclRecv) recv = nullptr;
  decltype(&ncclAllGather) all_gather = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  std::string error;  // why it is not loaded
};

const NcclApi& nccl() {
  static const NcclApi api = [] {
    NcclApi a;
    void* lib = ::dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = ::dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      a.error = std::string("cannot load libnccl.so.2 (") + (why ? why : "not found") + "); add its folder to LD_LIBRARY_PATH";
      return a;
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (!fn && a.error.empty()) a.error = std::string("libnccl.so.2 has no ") + name;
    };
    load(a.get_unique_id, "ncclGetUniqueId");
    load(a.comm_init_rank, "ncclCommInitRank");
    load(a.comm_destroy, "ncclCommDestroy");
    load(a.error_string, "ncclGetErrorString");
    load(a.group_start, "ncclGroupStart");
    load(a.group_end, "ncclGroupEnd");
    load(a.send, "ncclSend");
    load(a.recv, "ncclRecv");
    load(a.all_gather, "ncclAllGather");
    load(a.broadcast, "ncclBroadcast");
    load(a.all_reduce, "ncclAllReduce");
    return a;
  }();
  return api;
}

void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string(what) + ": " + nccl().error_string(r));
}

template <class T> ncclDataType_t nccl_type();
template <> ncclDataType_t nccl_type<float>() { return ncclFloat32; }
template <> ncclDataType_t nccl_type<double>() { return ncclFloat64; }
template <> ncclDataType_t nccl_type<int64_t>() { return ncclInt64; }

// sum[i] = parts[0][i] + parts[1][i] + ..., left to right (rank order).
template <class T>
__global__ void fold_parts_kernel(const T* parts, size_t parts_count, size_t count, size_t stride, T* sum) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  T s = parts[i];
  for (size_t p = 1; p < parts_count; ++p) s += parts[p * stride + i];
  sum[i] = s;
}

__global__ void add_kernel(const float* a, const float* b, size_t n, float* out) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

// Device bytes kept across calls (a training step makes the same calls every time).
class DeviceScratch {
 public:
  ~DeviceScratch() {
    if (data_) cudaFree(data_);
  }
  void* ensure(size_t bytes) {
    if (bytes <= bytes_) return data_;
    if (data_) check(cudaFree(data_), "cudaFree");
    data_ = nullptr;
    check(cudaMalloc(&data_, bytes), "cudaMalloc (NCCL scratch)");
    bytes_ = bytes;
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// The id of a new NCCL clique, from rank 0 to every rank through a file on shared storage: rank 0
// writes it whole (a temporary file renamed into place); the others wait for it.
ncclUniqueId exchange_id_by_file(const std::string& path, int rank) {
  ncclUniqueId id{};
  if (rank == 0) {
    check(nccl().get_unique_id(&id), "ncclGetUniqueId");
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(id.internal, sizeof(id.internal));
      if (!out.flush()) throw std::runtime_error("RESILINET_NCCL_ID_FILE: cannot write " + tmp);
    }
    std::filesystem::rename(tmp, path);
    return id;
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::ifstream in(path, std::ios::binary);
    if (in && in.read(id.internal, sizeof(id.internal)) && in.gcount() == sizeof(id.internal)) return id;
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(120))
      throw std::runtime_error("RESILINET_NCCL_ID_FILE: rank 0 wrote no NCCL id to " + path + " within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int world, const ncclUniqueId& id, cudaStream_t stream) : rank_(rank), world_(world), stream_(stream) {
    check(nccl().comm_init_rank(&comm_, world, id, rank), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) nccl().comm_destroy(comm_);
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  std::string describe() const override {
    return "nccl, rank " + std::to_string(rank_) + " of " + std::to_string(world_);
  }
  bool device_memory() const override { return true; }

  void allreduce_sum(float* data, size_t count) override { rank_order_sum(data, count); }
  void allreduce_sum(double* data, size_t count) override { rank_order_sum(data, count); }
  void allreduce_sum(int64_t* data, size_t count) override { rank_order_sum(data, count); }
  // Each rank sums the tree nodes it holds whole on its device, and the owners combine every
  // rank's nodes up the same tree (kernels/tile_tree.hpp), with one addition kernel per node.
  void sum_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count, float* out,
                     double* scalar) override {
    const TileTreePlan plan = plan_tile_tree(tiles_per_rank, world_, "sum_tile_tree");
    if (scalar) allreduce_sum(scalar, 1);
    if (count == 0) return;
    const auto& cover = plan.covers[size_t(rank_)];
    float* nodes = static_cast<float*>(node_scratch_.ensure(sizeof(float) * std::max<size_t>(1, cover.size()) * count));
    const size_t first = plan.first[size_t(rank_)];
    for (size_t i = 0; i < cover.size(); ++i)
      tree_sum(cover[i], plan.tiles, count, nodes + i * count, [&](kernels::TileNode n) -> const float* {
        return n.size == 1 || n.first + 1 >= plan.tiles ? tiles + (n.first - first) * count : nullptr;
      });
    ordered_sum(nodes, plan.nodes_per_rank, count, out, [&](const float* received, size_t own, size_t stride, float* sum) {
      if (plan.tiles == 0) {
        check(cudaMemsetAsync(sum, 0, own * sizeof(float), stream_), "sum_tile_tree: zero");
        return;
      }
      tree_sum(kernels::tile_tree_root(plan.tiles), plan.tiles, own, sum, [&](kernels::TileNode n) -> const float* {
        for (size_t i = 0; i < plan.nodes.size(); ++i)
          if (plan.nodes[i] == n) return received + i * stride;
        return nullptr;
      });
    });
  }

  void allgather(const void* data, size_t bytes, void* out) override {
    char* d = static_cast<char*>(host_scratch_.ensure(bytes * size_t(world_ + 1)));
    check(cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, stream_), "allgather: upload");
    check(nccl().all_gather(d, d + bytes, bytes, ncclChar, comm_, stream_), "ncclAllGather");
    check(cudaMemcpyAsync(out, d + bytes, bytes * size_t(world_), cudaMemcpyDeviceToHost, stream_), "allgather: download");
    check(cudaStreamSynchronize(stream_), "allgather");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= world_)
      throw std::invalid_argument("broadcast: root " + std::to_string(root) + " of a world of " + std::to_string(world_));
    void* d = host_scratch_.ensure(std::max<size_t>(bytes, 1));
    check(cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, stream_), "broadcast: upload");
    check(nccl().broadcast(d, d, bytes, ncclChar, root, comm_, stream_), "ncclBroadcast");
    check(cudaMemcpyAsync(data, d, bytes, cudaMemcpyDeviceToHost, stream_), "broadcast: download");
    check(cudaStreamSynchronize(stream_), "broadcast");
  }
  void barrier() override {
    void* d = host_scratch_.ensure(sizeof(float));
    check(nccl().all_reduce(d, d, 1, ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce (barrier)");
    check(cudaStreamSynchronize(stream_), "barrier");
  }

 private:
  // data = the ranks' buffers summed in rank order.
  template <class T>
  void rank_order_sum(T* data, size_t count) {
    const std::vector<size_t> one_each(size_t(world_), 1);
    ordered_sum(data, one_each, count, data, [&](const T* received, size_t own, size_t stride, T* sum) {
      const unsigned threads = 256;
      fold_parts_kernel<T><<<unsigned((own + threads - 1) / threads), threads, 0, stream_>>>(received, size_t(world_), own,
                                                                                            stride, sum);
      check(cudaGetLastError(), "fold_parts_kernel");
    });
  }

  // out = the tree sum of `node` (count floats on the device), whole(node) giving the nodes known.
  template <class Whole>
  void tree_sum(kernels::TileNode node, size_t tiles, size_t count, float* out, const Whole& whole) {
    const size_t levels = 2 * (size_t(std::bit_width(node.size)) + 1);
    float* buffers = static_cast<float*>(tree_scratch_.ensure(sizeof(float) * levels * count));
    std::vector<float*> pointers;
    for (size_t k = 0; k < levels; ++k) pointers.push_back(buffers + k * count);
    const float* sum = kernels::tile_tree_eval(
        node, tiles, whole,
        [&](const float* a, const float* b, float* to) {
          const unsigned threads = 256;
          add_kernel<<<unsigned((count + threads - 1) / threads), threads, 0, stream_>>>(a, b, count, to);
          check(cudaGetLastError(), "add_kernel");
        },
        [&](int depth) { return pointers.data() + 2 * size_t(depth); }, out);
    if (sum != out) check(cudaMemcpyAsync(out, sum, count * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "tree_sum: copy");
  }

  // Element i of a piece belongs to rank i / share (the last share may be short): every rank sends
  // each of its parts' values of that share there, the owner reduces them (reduce(received, own,
  // stride, sum): per_rank[0] parts of rank 0, then rank 1's, ..., each `stride` apart), and the
  // shares are gathered back. out may be parts (one part per rank): the result is staged.
  template <class T, class Reduce>
  void ordered_sum(const T* parts, const std::vector<size_t>& per_rank, size_t count, T* out, const Reduce& reduce) {
    const size_t w = size_t(world_), mine = per_rank[size_t(rank_)];
    size_t total = 0;
    for (size_t n : per_rank) total += n;
    if (count == 0) return;
    if (total == 0) {
      check(cudaMemsetAsync(out, 0, count * sizeof(T), stream_), "ordered_sum: zero");
      return;
    }
    const size_t share = (count + w - 1) / w;
    auto share_of = [&](size_t r) { return std::min(count, (r + 1) * share) - std::min(count, r * share); };
    const size_t own = share_of(size_t(rank_));
    T* received = static_cast<T*>(scratch_.ensure(sizeof(T) * (total * share + share + w * share)));
    T* sum = received + total * share;
    T* gathered = sum + share;
    check(nccl().group_start(), "ncclGroupStart");
    for (size_t r = 0; r < w; ++r) {
      const size_t n = share_of(r);
      for (size_t p = 0; p < mine && n > 0; ++p)
        check(nccl().send(parts + p * count + r * share, n, nccl_type<T>(), int(r), comm_, stream_), "ncclSend");
    }
    for (size_t r = 0, at = 0; r < w; at += per_rank[r], ++r)
      for (size_t q = 0; q < per_rank[r] && own > 0; ++q)
        check(nccl().recv(received + (at + q) * share, own, nccl_type<T>(), int(r), comm_, stream_), "ncclRecv");
    check(nccl().group_end(), "ncclGroupEnd");
    if (own > 0) reduce(received, own, share, sum);
    check(nccl().all_gather(sum, gathered, share, nccl_type<T>(), comm_, stream_), "ncclAllGather");
    check(cudaMemcpyAsync(out, gathered, count * sizeof(T), cudaMemcpyDeviceToDevice, stream_), "ordered_sum: copy");
  }

  int rank_ = 0, world_ = 1;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  DeviceScratch scratch_, host_scratch_, node_scratch_, tree_scratch_;
};

}  // namespace

bool nccl_available() { return nccl().error.empty(); }

std::unique_ptr<Communicator> make_nccl_communicator(void* cuda_stream) {
  if (!cuda_stream) throw CommunicatorUnavailable("the NCCL communicator needs the CUDA backend (run.device: cuda)");
  if (!nccl_available()) throw CommunicatorUnavailable("NCCL: " + nccl().error);
  const auto stream = static_cast<cudaStream_t>(cuda_stream);
  ncclUniqueId id{};
  if (const char* file = std::getenv("RESILINET_NCCL_ID_FILE"); file && *file) {
    const int rank = env_int("SLURM_PROCID", 0), world = env_int("SLURM_NTASKS", 1);
    if (world < 1 || rank < 0 || rank >= world)
      throw CommunicatorUnavailable("RESILINET_NCCL_ID_FILE: SLURM_PROCID " + std::to_string(rank) +
                                    " is not a rank of SLURM_NTASKS " + std::to_string(world));
    id = exchange_id_by_file(file, rank);
    return std::make_unique<NcclCommunicator>(rank, world, id, stream);
  }
  if (launched_by_mpi()) {
    std::unique_ptr<Communicator> mpi = make_mpi_communicator();
    if (!mpi) throw CommunicatorUnavailable("an MPI launcher started this job, but this build has no MPI to pass the NCCL id "
                                            "(or set RESILINET_NCCL_ID_FILE)");
    if (mpi->rank() == 0) check(nccl().get_unique_id(&id), "ncclGetUniqueId");
    mpi->broadcast(id.internal, sizeof(id.internal), 0);
    return std::make_unique<NcclCommunicator>(mpi->rank(), mpi->world(), id, stream);
  }
  check(nccl().get_unique_id(&id), "ncclGetUniqueId");  // one process: a clique of one GPU
  return std::make_unique<NcclCommunicator>(0, 1, id, stream);
}

}  // namespace resilinet
