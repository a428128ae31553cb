// Time of one training step's communication over MPI ranks, as the steps make it (two tiles of
// gradient a rank, the step's loss riding along): a network of at least 16,384 parameters (the
// default autoencoder's 56,468) takes a sharded step, the sum's reduce-scatter then the gathering
// of the parameters; a smaller one (the classifier head's 3,077) sums whole on every rank. Run
// under mpirun; rank 0 prints one JSON line per size. bench/run_ranks_bench.sh runs it beside the
// training.
//   mpirun -n 2 build/bench/comm_bench [--floats 56468,3077] [--repeats 2000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/distributed/communicator.hpp"

int main(int argc, char** argv) {
  std::string sizes = "56468,3077";
  int repeats = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--floats")) sizes = argv[i + 1];
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  const auto comm = resilinet::make_communicator(resilinet::launched_by_mpi() ? "mpi" : "local");
  std::stringstream list(sizes);
  for (std::string item; std::getline(list, item, ',');) {
    const size_t floats = std::strtoul(item.c_str(), nullptr, 10);
    const std::vector<size_t> tiles_per_rank(size_t(comm->world()), 2);
    std::vector<float> tiles(2 * floats, 1.0f), sums(floats);
    double loss = 1.0;
    const bool sharded = comm->shards_sums() && floats >= resilinet::Communicator::kShardedStepMinElements;
    auto step = [&] {
      if (sharded) {
        comm->reduce_scatter_tile_tree(tiles.data(), tiles_per_rank, floats, sums.data(), &loss);
        comm->allgather_owned(sums.data(), floats);
      } else {
        comm->sum_tile_tree(tiles.data(), tiles_per_rank, floats, sums.data(), &loss);
      }
    };
    for (int i = 0; i < repeats / 10 + 1; ++i) step();  // warm-up
    comm->barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeats; ++i) step();
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / repeats;
    if (comm->rank() == 0)
      std::printf("{\"bench\":\"comm\",\"ranks\":%d,\"floats\":%zu,\"step\":\"%s\",\"us_per_step\":%.2f}\n", comm->world(),
                  floats, sharded ? "sharded" : "whole", us);
  }
  return 0;
}
