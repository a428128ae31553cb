// The command-line options that override a training config's data, run folder, seed, threads and
// device: shared by `train` and `baseline`, so both read a config the same way.
#pragma once
#include "trainer/commands/room.hpp"
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "trainer/model/config.hpp"

namespace resilinet {

struct RunOverrides {
  std::string config, data, run_dir, device;
  std::optional<uint64_t> seed;  // run.seed's type: a negative value is refused by CLI parsing
  std::optional<int> threads;

  void add_to(CLI::App* sub) {
    sub->add_option("--config,-c", config, "YAML config (configs/README.md); defaults if omitted");
    sub->add_option("--data", data, "Override data: glob of shards");
    sub->add_option("--run-dir", run_dir, "Override run.dir: output folder");
    sub->add_option("--seed", seed, "Override run.seed");
    sub->add_option("--threads", threads, "Override run.threads (0 = all cores)");
    sub->add_option("--device", device, "Override run.device: cpu, cuda or auto")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  }
  // The config file (or the defaults) with the overrides, checked against the config's ranges.
  TrainConfig load() const {
    TrainConfig c = load_train_config(config);
    if (!data.empty()) c.data = data;
    if (!run_dir.empty()) c.run_dir = run_dir;
    if (seed) c.seed = *seed;
    if (threads) c.threads = *threads;
    if (!device.empty()) c.device = device;
    validate_train_config(c);
    return c;
  }
};

}  // namespace resilinet
