#include "trainer/bench/region_split.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "datasets/loader.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/outputs/atomic_file.hpp"

namespace resilinet {
namespace {

// What identifies the source: its shards' paths, sizes and modification times.
nlohmann::json source_key(const ShardSet& data) {
  nlohmann::json key = nlohmann::json::array();
  for (const ShardMeta& s : data.shards()) {
    const auto time = std::filesystem::last_write_time(s.path).time_since_epoch().count();
    key.push_back({s.path, std::filesystem::file_size(s.path), int64_t(time)});
  }
  return key;
}

}  // namespace

std::vector<RegionShard> split_by_region(const std::string& data_glob, const std::string& out_dir, bool quiet) {
  const ShardSet data = ShardSet::open(data_glob);
  const std::vector<std::string>& names = data.region_names();
  std::vector<RegionShard> regions(names.size());
  for (size_t r = 0; r < names.size(); ++r) regions[r] = {names[r], out_dir + "/r" + std::to_string(r) + ".h5", 0};
  const std::string record_path = out_dir + "/split.json";
  const nlohmann::json key = source_key(data);
  {
    std::ifstream in(record_path);
    nlohmann::json record;
    if (in) try {
        record = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception&) {
      }
    bool current = record.is_object() && record.value("source", nlohmann::json()) == key &&
                   record.value("cells", nlohmann::json()).size() == names.size();
    for (size_t r = 0; current && r < names.size(); ++r) current = std::filesystem::exists(regions[r].path);
    if (current) {
      for (size_t r = 0; r < names.size(); ++r) regions[r].cells = record["cells"][r].get<size_t>();
      return regions;
    }
  }
  make_output_dir(out_dir, "--out");
  std::filesystem::remove(record_path);
  if (!quiet) std::fprintf(stderr, "resilinet bench: splitting %zu cells into %zu region shards in %s\n",
                           data.total_rows(), names.size(), out_dir.c_str());
  ShardWriterOptions options;
  // Every region's writer is open at once, each holding a chunk per column: small chunks keep that
  // to about 0.5 MB a region (65,536-row chunks took 7 MB a region, 354 MB for the 51 US states).
  options.chunk_rows = 4096;
  options.has_hazard = data.has_hazard();
  options.has_external_rating = data.has_external_rating();
  options.has_planted_level = data.has_planted_level();
  options.has_population = data.has_population();
  for (size_t g = 0; g < data.group_names().size(); ++g)
    options.groups.push_back({data.group_names()[g], data.group_labels()[g]});
  std::vector<std::unique_ptr<ShardWriter>> writers;
  for (size_t r = 0; r < names.size(); ++r)
    writers.push_back(std::make_unique<ShardWriter>(regions[r].path, data.schema(), std::vector<std::string>{names[r]}, options));
  const size_t F = data.schema().size(), G = data.group_names().size();
  LoaderOptions opt;
  opt.batch_rows = 65536;
  opt.shuffle = false;
  Loader loader(data, opt);
  Batch b;
  ShardColumns block;
  std::vector<size_t> first(names.size() + 1), order;
  while (loader.next(b)) {
    // The batch's rows bucketed by region in one pass (a counting sort, so each region's rows keep
    // the data's order), then each region's rows appended to its shard.
    std::fill(first.begin(), first.end(), 0);
    for (size_t i = 0; i < b.rows; ++i) ++first[size_t(b.region[i]) + 1];
    for (size_t r = 0; r < names.size(); ++r) first[r + 1] += first[r];
    order.resize(b.rows);
    {
      std::vector<size_t> next(first.begin(), first.end() - 1);
      for (size_t i = 0; i < b.rows; ++i) order[next[size_t(b.region[i])]++] = i;
    }
    for (size_t r = 0; r < names.size(); ++r) {
      const size_t n = first[r + 1] - first[r];
      if (n == 0) continue;
      block.resize(n, F, options.has_hazard, options.has_external_rating, options.has_planted_level, G,
                   options.has_population);
      for (size_t k = 0; k < n; ++k) {
        const size_t i = order[first[r] + k];
        std::copy(b.x + i * F, b.x + (i + 1) * F, block.features.begin() + ptrdiff_t(k * F));
        block.cell_id[k] = b.cell_id[i];
        block.lonlat[2 * k] = b.lonlat[2 * i];
        block.lonlat[2 * k + 1] = b.lonlat[2 * i + 1];
        block.region[k] = 0;
        if (options.has_hazard) block.hazard[k] = b.hazard[i];
        if (options.has_external_rating) block.external_rating[k] = b.external_rating[i];
        if (options.has_planted_level) block.planted_level[k] = b.planted_level[i];
        for (size_t g = 0; g < G; ++g) block.groups[k * G + g] = b.groups[i * G + g];
        if (options.has_population) block.population[k] = b.population[i];
      }
      writers[r]->append(block);
      regions[r].cells += n;
    }
  }
  for (auto& w : writers) w->commit();
  nlohmann::json cells = nlohmann::json::array();
  for (const RegionShard& r : regions) cells.push_back(r.cells);
  write_text_atomically(record_path, nlohmann::json{{"source", key}, {"cells", cells}}.dump(2) + "\n");
  return regions;
}

}  // namespace resilinet
