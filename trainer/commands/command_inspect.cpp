// `resilinet inspect`: opens and validates a set of shards, then streams it once in slabs and prints
// rows, shards, schema, regions with row counts, groupings with their units, per-feature min / median
// / max / missing and which optional columns exist. It changes nothing and trains nothing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "datasets/input_error.hpp"
#include "datasets/feature_sample.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/commands/commands.hpp"

namespace resilinet {
namespace {

constexpr size_t kSlabRows = 65536;
constexpr size_t kShardsListed = 20;

struct InspectOptions {
  std::string positional;
  std::string data;
  size_t median_rows = FeatureSample::kDefaultCapacity;  // the scaler's, so both print one median
};

struct FeatureStats {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  uint64_t present = 0;
  uint64_t missing = 0;
};

std::string number(double v) { return std::isnan(v) ? "-" : fmt::format("{:.7g}", v); }

// Appends an aligned table: two-space indent, columns two spaces apart.
void append_table(std::string& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t c = 0; c < row.size(); ++c)
      line += " " + (c + 1 < row.size() ? fmt::format("{:<{}} ", row[c], widths[c]) : row[c]);
    out += line + "\n";
  }
}

std::string presence(size_t with, size_t shards) {
  if (with == shards) return "yes";
  if (with == 0) return "no";
  return fmt::format("in {} of {} shards", with, shards);
}

void run_inspect(const InspectOptions& options) {
  if (options.median_rows == 0)
    throw InputError("command line", "--median-rows", "a whole number of values >= 1", "0");
  const std::string pattern = options.data.empty() ? options.positional : options.data;
  if (pattern.empty())
    throw InputError("", "data", "a shard glob, file or directory (inspect GLOB or --data GLOB)",
                     "none");
  const ShardSet set = ShardSet::open(pattern);
  const Schema& schema = set.schema();
  const size_t F = schema.size();

  std::vector<FeatureStats> stats(F);
  std::vector<uint64_t> region_rows(set.region_names().size(), 0);
  const size_t G = set.group_names().size();
  std::vector<std::vector<bool>> unit_seen(G);  // per grouping: which global labels have cells
  for (size_t g = 0; g < G; ++g) unit_seen[g].assign(set.group_labels()[g].size(), false);
  double population = 0;
  uint64_t population_missing = 0;
  FeatureSample sample(F, options.median_rows);
  ShardColumns slab;
  for (size_t s = 0; s < set.shards().size(); ++s) {
    ShardReader reader(set.shards()[s].path);
    const std::vector<uint32_t>& to_global = set.region_map()[s];
    for (size_t first = 0; first < reader.meta().rows; first += kSlabRows) {
      size_t count = std::min(kSlabRows, reader.meta().rows - first);
      reader.read_rows(first, count, slab);
      for (size_t k = 0; k < slab.groups.size(); ++k)
        unit_seen[k % G][set.group_map()[s][k % G][slab.groups[k]]] = true;
      for (float p : slab.population) {
        if (std::isnan(p)) ++population_missing;
        else population += p;
      }
      for (size_t r = 0; r < count; ++r) {
        ++region_rows[to_global[slab.region[r]]];
        for (size_t f = 0; f < F; ++f) {
          float v = slab.features[r * F + f];
          FeatureStats& st = stats[f];
          if (std::isnan(v)) {
            ++st.missing;
            continue;
          }
          ++st.present;
          st.min = std::min(st.min, v);
          st.max = std::max(st.max, v);
        }
      }
      sample.add(slab.features.data(), slab.cell_id.data(), count);
    }
  }

  // Built in full before printing, so a failure mid-stream prints only the error line.
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  line(fmt::format("dataset: {}", pattern));
  line(fmt::format("rows: {}", set.total_rows()));
  line(fmt::format("shards: {}", set.shards().size()));
  std::vector<std::vector<std::string>> table;
  for (size_t s = 0; s < set.shards().size() && s < kShardsListed; ++s)
    table.push_back({set.shards()[s].path, fmt::format("{} rows", set.shards()[s].rows)});
  append_table(out, table);
  if (set.shards().size() > kShardsListed)
    line(fmt::format("  ... and {} more", set.shards().size() - kShardsListed));

  line(fmt::format("schema: {} features, systems: {}", F, fmt::join(schema.systems(), ", ")));
  table = {{"#", "name", "system", "component", "direction", "unit"}};
  for (size_t f = 0; f < F; ++f) {
    const FeatureSpec& spec = schema.features[f];
    table.push_back({std::to_string(f), spec.name, spec.system, spec.component,
                     spec.direction > 0 ? "+1" : "-1", spec.unit.empty() ? "-" : spec.unit});
  }
  append_table(out, table);

  line(fmt::format("regions: {}", set.region_names().size()));
  table = {{"region", "rows"}};
  for (size_t g = 0; g < region_rows.size(); ++g)
    table.push_back({set.region_names()[g], std::to_string(region_rows[g])});
  append_table(out, table);

  // Units: labels with at least one cell (a shard may list labels that only others use).
  line(fmt::format("groupings: {}", G));
  if (G > 0) {
    table = {{"grouping", "units"}};
    for (size_t g = 0; g < G; ++g)
      table.push_back({set.group_names()[g],
                       std::to_string(std::count(unit_seen[g].begin(), unit_seen[g].end(), true))});
    append_table(out, table);
  }

  size_t with_hazard = 0, with_planted = 0, with_external = 0, with_population = 0;
  for (const ShardMeta& m : set.shards()) {
    with_hazard += m.has_hazard;
    with_planted += m.has_planted_level;
    with_external += m.has_external_rating;
    with_population += m.has_population;
  }
  const size_t shards = set.shards().size();
  line(fmt::format("population: {}{}", presence(with_population, shards),
                   with_population == 0 ? ""
                                        : fmt::format(" ({:.0f} residents, missing in {} rows)", population,
                                                      population_missing)));
  line(fmt::format("hazard: {}", presence(with_hazard, shards)));
  line(fmt::format("planted_level: {}", presence(with_planted, shards)));
  line(fmt::format("external_rating: {}", presence(with_external, shards)));

  bool exact = true;
  for (size_t f = 0; f < F; ++f) exact = exact && sample.exact(f);
  if (exact)
    line("features (median: exact, over non-missing values):");
  else
    line(fmt::format("features (median: estimated from a uniform sample of at most {} values per feature, "
                     "keyed by cell id, as the scaler imputes; over non-missing values of {} rows):",
                     options.median_rows, set.total_rows()));
  table = {{"name", "min", "median", "max", "missing"}};
  for (size_t f = 0; f < F; ++f) {
    const FeatureStats& st = stats[f];
    bool any = st.present > 0;
    table.push_back({schema.features[f].name, any ? number(st.min) : "-",
                     number(sample.quantile(f, 0.5)), any ? number(st.max) : "-",
                     std::to_string(st.missing)});
  }
  append_table(out, table);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand(
      "inspect",
      "Validate a set of shards and print rows, schema, regions, groupings and feature statistics");
  auto* positional =
      sub->add_option("shards", options->positional, "Shard glob, single shard or directory");
  auto* data = sub->add_option("--data", options->data, "Same as the positional argument");
  positional->excludes(data);
  sub->add_option("--median-rows", options->median_rows,
                  "Medians are exact up to this many values per feature, else estimated from a "
                  "uniform sample of this many (the scaler's sample; bounds memory)")
      ->capture_default_str();
  sub->callback([options] { run_inspect(*options); });
}

}  // namespace resilinet
