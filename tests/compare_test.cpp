// `resilinet compare`: the transition matrices and the moved cells against a recount by cell id
// from the two ratings files; cells in one rating only; and bad input.
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "small_run.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;

namespace {

struct Rated {
  std::vector<int64_t> id;
  std::vector<uint32_t> region;
  std::vector<int32_t> level;
};

Rated rate(const std::string& checkpoint, const std::string& data, const std::filesystem::path& out) {
  const auto r = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + checkpoint + " --data '" + data +
                                   "' --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto file = out / "ratings.h5";
  return {rt::read_h5_rows<int64_t>(file, "cell_id", H5T_NATIVE_INT64),
          rt::read_h5_rows<uint32_t>(file, "region", H5T_NATIVE_UINT32),
          rt::read_h5_rows<int32_t>(file, "level", H5T_NATIVE_INT32)};
}

}  // namespace

TEST(Compare, TransitionsAndMovedCellsMatchARecountByCellId) {
  const rt::SmallRun& run = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  // The same cells rated by two models: the small run's, and one trained with another seed.
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = run.data;
  c.run_dir = (dir / "other").string();
  c.seed = 99;
  c.pretrain.epochs = 1;
  c.pretrain.min_steps = 0;
  c.classifier.epochs = 1;
  c.classifier.min_steps = 0;
  const std::string other = train_model(c, true).checkpoint_path;
  const Rated a = rate(run.checkpoint, run.data, dir / "a"), b = rate(other, run.data, dir / "b");

  auto r = rt::run_resilinet("compare --quiet --ratings " + (dir / "a").string() + " --ratings " + (dir / "b").string() +
                             " --out " + (dir / "cmp").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = nlohmann::json::parse(rt::read_text(dir / "cmp" / "compare.json"));
  std::map<int64_t, int32_t> old_level;
  for (size_t i = 0; i < a.id.size(); ++i) old_level[a.id[i]] = a.level[i];
  std::vector<std::vector<std::vector<int64_t>>> expected(2, std::vector<std::vector<int64_t>>(5, std::vector<int64_t>(5, 0)));
  std::vector<int64_t> moved_ids;
  for (size_t i = 0; i < b.id.size(); ++i) {
    const int32_t before = old_level.at(b.id[i]), after = b.level[i];
    ++expected[b.region[i]][size_t(before - 1)][size_t(after - 1)];
    if (std::abs(after - before) >= 2) moved_ids.push_back(b.id[i]);
  }
  for (size_t g = 0; g < 2; ++g) {
    EXPECT_EQ(out["regions"][g]["transitions"].get<std::vector<std::vector<int64_t>>>(), expected[g]) << g;
  }
  EXPECT_EQ(out["all_regions"]["matched"].get<int64_t>(), int64_t(b.id.size()));
  EXPECT_EQ(out["all_regions"]["moved"].get<int64_t>(), int64_t(moved_ids.size()));
  EXPECT_EQ(out["only_old"].get<int64_t>(), 0);
  EXPECT_EQ(out["only_new"].get<int64_t>(), 0);
  auto listed = rt::read_h5_rows<int64_t>(dir / "cmp" / "moved.h5", "cell_id", H5T_NATIVE_INT64);
  EXPECT_EQ(listed, moved_ids);  // in the new ratings' order
  std::ifstream csv(dir / "cmp" / "moved.csv");
  std::string line;
  size_t lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, moved_ids.size() + 1);

  // Against fewer cells: the ids 0..5999 of a smaller data set are matched, the rest are old only.
  auto s = rt::run_resilinet("synth --quiet --out " + (dir / "small").string() + " --cells 6000 --regions 2 --seed 8");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  const Rated small = rate(run.checkpoint, (dir / "small" / "*.h5").string(), dir / "c");
  r = rt::run_resilinet("compare --quiet --ratings " + (dir / "a").string() + " --ratings " + (dir / "c").string() +
                        " --out " + (dir / "cmp2").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out2 = nlohmann::json::parse(rt::read_text(dir / "cmp2" / "compare.json"));
  int64_t matched = 0;
  for (int64_t id : small.id) matched += old_level.count(id);
  EXPECT_EQ(out2["all_regions"]["matched"].get<int64_t>(), matched);
  EXPECT_EQ(out2["only_old"].get<int64_t>(), int64_t(a.id.size()) - matched);
  EXPECT_EQ(out2["only_new"].get<int64_t>(), int64_t(small.id.size()) - matched);
}

TEST(Compare, BadInputExitsWithTwoAndWritesNothing) {
  const rt::SmallRun& run = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  rate(run.checkpoint, run.data, dir / "a");
  const std::string shard = std::filesystem::directory_iterator(run.dir / "data")->path().string();
  const std::pair<std::string, std::string> cases[] = {
      {"--ratings " + (dir / "a").string() + " --ratings " + (dir / "nowhere").string(), "no such file or folder"},
      {"--ratings " + (dir / "a").string() + " --ratings " + run.dir.string(), "a folder holding ratings.h5 or parts.json"},
      {"--ratings " + (dir / "a").string(), "--ratings"},
      {"--ratings " + (dir / "a").string() + " --ratings " + (dir / "a").string() + " --min-change 0", "--min-change"},
  };
  for (const auto& [options, fragment] : cases) {
    const auto r = rt::run_resilinet("compare --quiet " + options + " --out " + (dir / "cmp").string());
    EXPECT_EQ(r.exit_code, 2) << options << "\n" << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "cmp" / "compare.json"));
  }
  // Any HDF5 file that is not a ratings file (a shard) is named with what it lacks.
  if (shard.ends_with(".h5")) {
    const auto r = rt::run_resilinet("compare --quiet --ratings " + shard + " --ratings " + (dir / "a").string() +
                                     " --out " + (dir / "cmp").string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(shard + ": format"), std::string::npos) << r.output;
  }
}
