// A small trained run shared by the tests of one executable: synthetic data (12,000 cells in 2
// regions, with hazard and planted levels) and a short training with configs/default.yaml, made
// once per test binary.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "h5_rows.hpp"
#include "test_support.hpp"
#include "trainer/model/config.hpp"
#include "trainer/stages/train_run.hpp"

namespace resilinet::testing {

struct SmallRun {
  std::filesystem::path dir;
  std::string data, checkpoint;
};

inline const SmallRun& small_trained_run() {
  static const SmallRun run = [] {
    SmallRun r;
    // Not scratch_dir(): the tests' own scratch folders are emptied as they start.
    r.dir = test_process_root() / "small-run";
    std::filesystem::remove_all(r.dir);
    std::filesystem::create_directories(r.dir);
    const auto res = run_resilinet("synth --quiet --out " + (r.dir / "data").string() +
                                   " --cells 12000 --regions 2 --seed 5");
    EXPECT_EQ(res.exit_code, 0) << res.output;
    r.data = (r.dir / "data" / "*.h5").string();
    TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
    c.data = r.data;
    c.run_dir = (r.dir / "run").string();
    c.pretrain.epochs = 3;
    c.pretrain.min_steps = 0;
    c.classifier.epochs = 3;
    c.classifier.min_steps = 0;
    r.checkpoint = train_model(c, true).checkpoint_path;
    return r;
  }();
  return run;
}

}  // namespace resilinet::testing
