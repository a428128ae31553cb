// Time of one training step's communication over MPI ranks: the sum of the default autoencoder's
// gradient buffer (56,468 floats) and of the step's loss, as every pretraining step does it. Run
// under mpirun; rank 0 prints one JSON line. bench/run_ranks_bench.sh runs it beside the training.
//   mpirun -n 2 build/bench/comm_bench [--floats 56468] [--repeats 2000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "trainer/distributed/communicator.hpp"

int main(int argc, char** argv) {
  size_t floats = 56468;
  int repeats = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--floats")) floats = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  const auto comm = resilinet::make_communicator(resilinet::launched_by_mpi() ? "mpi" : "local");
  std::vector<float> grads(floats, 1.0f);
  double loss = 1.0;
  auto step = [&] {
    comm->allreduce_sum(grads.data(), grads.size());
    comm->allreduce_sum(&loss, 1);
  };
  for (int i = 0; i < repeats / 10 + 1; ++i) step();  // warm-up
  comm->barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) step();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / repeats;
  if (comm->rank() == 0)
    std::printf("{\"bench\":\"comm\",\"ranks\":%d,\"floats\":%zu,\"us_per_step\":%.2f}\n", comm->world(), floats, us);
  return 0;
}
