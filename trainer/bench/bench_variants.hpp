// `resilinet bench --variants`: every variant trained (or its baseline rated) on the same data with
// each seed, then one table: quality (reconstruction, cluster quality, seed stability, held-out
// macro-F1, agreement with planted levels or an external rating) and cost (training time,
// throughput, peak RSS). Writes OUT/variants.md, .csv and .json (docs/FORMAT.md "Variants table");
// runs live in OUT/runs/<variant>/seed<S>/.
#pragma once
#include "trainer/bench/room.hpp"
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/bench/result_table.hpp"

namespace resilinet {

struct VariantsBenchOptions {
  std::vector<std::string> variant_files;
  std::string data;        // glob of shards
  std::string config;      // base config ("" = the built-in defaults)
  std::string out = "runs/bench";
  int seeds = 3;           // seeds base.seed, base.seed + 1, ...; a variant's `seeds:` replaces them
  int jobs = 1;            // runs at a time
  int threads = 0;         // threads of each run; 0 = the cores shared between the jobs
  bool quiet = false;
};

// The table's columns in order (docs/FORMAT.md); a column no variant fills is left out.
const std::vector<ResultColumn>& variant_columns();

// Returns variants.json's object.
nlohmann::json run_variants_bench(const VariantsBenchOptions& options);

// The adjusted Rand index of every pair of level labelings of the same cells, summarized (n = pairs,
// seeds = labelings); null for fewer than 2.
nlohmann::json mean_pairwise_ari(const std::vector<std::vector<int32_t>>& labelings);

// The `/level` column of a levels.h5 or ratings.h5 (rows in file order).
std::vector<int32_t> read_level_column(const std::string& path);

}  // namespace resilinet
