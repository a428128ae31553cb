// `resilinet compare --ratings OLD --ratings NEW --out DIR`: two ratings of the same cells (a yearly
// refresh: a new vintage of the data, or a retrained model), matched by cell id. Writes per region
// the transition matrix of levels, and the cells whose level moved by --min-change levels or more
// (docs/FORMAT.md "Comparing ratings"). Memory: 16 bytes per cell of OLD (its ids and levels,
// sorted); NEW is streamed.
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/cell_table.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/outputs/ratings_reader.hpp"

namespace resilinet {

namespace {

struct CompareArgs {
  std::vector<std::string> ratings;
  std::string out = "compare";
  int min_change = 2;
  bool quiet = false;
};

struct OldCell {
  int64_t id;
  int32_t level;
};

// Counts of one region, or of all: levels 0 (not rated) .. K before (rows) and after (columns).
struct Transitions {
  int K = 0;
  std::vector<int64_t> counts;
  int64_t moved = 0;
  explicit Transitions(int levels) : K(levels), counts(size_t(levels + 1) * size_t(levels + 1), 0) {}
  void add(int32_t before, int32_t after) { ++counts[size_t(before) * size_t(K + 1) + size_t(after)]; }
  nlohmann::json json(const std::string& name) const {
    nlohmann::json table = nlohmann::json::array();
    int64_t matched = 0, improved = 0, same = 0, worse = 0, not_rated_old = 0, not_rated_new = 0;
    for (int a = 0; a <= K; ++a) {
      nlohmann::json row = nlohmann::json::array();
      for (int z = 0; z <= K; ++z) {
        const int64_t c = counts[size_t(a) * size_t(K + 1) + size_t(z)];
        matched += c;
        if (a == 0) not_rated_old += c;
        else if (z == 0) not_rated_new += c;
        else (z > a ? improved : z == a ? same : worse) += c;
        if (a > 0 && z > 0) row.push_back(c);
      }
      if (a > 0) table.push_back(row);
    }
    return {{"name", name},       {"matched", matched}, {"transitions", table},
            {"improved", improved}, {"same", same},     {"worse", worse},
            {"moved", moved},     {"not_rated_old", not_rated_old}, {"not_rated_new", not_rated_new}};
  }
};

void run_compare(const CompareArgs& args) {
  if (args.min_change < 1)
    throw InputError("resilinet compare", "--min-change", "a number of levels from 1", std::to_string(args.min_change));
  const RatingsSource old_source = open_ratings(args.ratings[0], "--ratings (old)");
  const RatingsSource new_source = open_ratings(args.ratings[1], "--ratings (new)");
  const int K = new_source.levels;
  if (old_source.levels != K)
    throw InputError(args.ratings[0], "levels", fmt::format("{} levels, as {}", K, args.ratings[1]),
                     std::to_string(old_source.levels));
  Progress progress("", args.quiet);
  progress.begin("compare", old_source.rows + new_source.rows);

  std::vector<OldCell> old_cells;
  old_cells.reserve(old_source.rows);
  for_each_rated_chunk(old_source, 65536, [&](const RatedChunk& c) {
    for (size_t i = 0; i < c.rows; ++i) old_cells.push_back({c.cell_id[i], c.level[i]});
    progress.update(old_cells.size(), "", old_cells.size());
  });
  std::sort(old_cells.begin(), old_cells.end(), [](const OldCell& a, const OldCell& b) { return a.id < b.id; });
  for (size_t i = 1; i < old_cells.size(); ++i)
    if (old_cells[i].id == old_cells[i - 1].id)
      throw InputError(args.ratings[0], "/cell_id", "each cell id once", fmt::format("cell {} twice", old_cells[i].id));

  const size_t R = new_source.region_names.size();
  std::vector<Transitions> regions(R, Transitions(K));
  Transitions all(K);
  std::vector<uint8_t> seen(old_cells.size(), 0);
  int64_t only_new = 0;
  using T = CellColumn::Type;
  CellTableWriter moved(args.out, "moved", "resilinet-moved-cells", 1, new_source.region_names,
                        {{"level_old", T::Int32}, {"level_new", T::Int32}, {"change", T::Int32}}, {true, true, true});
  std::vector<size_t> rows;
  std::vector<int64_t> ids;
  std::vector<uint32_t> region;
  std::vector<double> lonlat;
  std::vector<int32_t> level_old, level_new, change;
  uint64_t done = old_cells.size();
  for_each_rated_chunk(new_source, 65536, [&](const RatedChunk& c) {
    ids.clear(), region.clear(), lonlat.clear(), level_old.clear(), level_new.clear(), change.clear();
    for (size_t i = 0; i < c.rows; ++i) {
      const auto it = std::lower_bound(old_cells.begin(), old_cells.end(), c.cell_id[i],
                                       [](const OldCell& a, int64_t id) { return a.id < id; });
      if (it == old_cells.end() || it->id != c.cell_id[i]) {
        ++only_new;
        continue;
      }
      uint8_t& was_seen = seen[size_t(it - old_cells.begin())];
      if (was_seen) throw InputError(args.ratings[1], "/cell_id", "each cell id once", fmt::format("cell {} twice", c.cell_id[i]));
      was_seen = 1;
      const int32_t a = it->level, z = c.level[i];
      regions[c.region[i]].add(a, z);
      all.add(a, z);
      if (a > 0 && z > 0 && std::abs(z - a) >= args.min_change) {
        ++regions[c.region[i]].moved;
        ++all.moved;
        ids.push_back(c.cell_id[i]);
        region.push_back(c.region[i]);
        lonlat.insert(lonlat.end(), {c.lonlat[2 * i], c.lonlat[2 * i + 1]});
        level_old.push_back(a);
        level_new.push_back(z);
        change.push_back(z - a);
      }
    }
    Batch b;
    b.rows = ids.size();
    b.cell_id = ids.data();
    b.region = region.data();
    b.lonlat = lonlat.data();
    moved.append(b, {level_old.data(), level_new.data(), change.data()});
    done += c.rows;
    progress.update(done, "", done);
  });
  const int64_t only_old = int64_t(std::count(seen.begin(), seen.end(), 0));

  nlohmann::json out = {{"format", "resilinet-compare"},
                        {"format_version", 1},
                        {"old", args.ratings[0]},
                        {"new", args.ratings[1]},
                        {"levels", K},
                        {"min_change", args.min_change},
                        {"cells_old", old_source.rows},
                        {"cells_new", new_source.rows},
                        {"only_old", only_old},
                        {"only_new", only_new},
                        {"all_regions", all.json("all regions")},
                        {"regions", nlohmann::json::array()}};
  for (size_t r = 0; r < R; ++r) out["regions"].push_back(regions[r].json(new_source.region_names[r]));
  moved.commit();
  write_text_atomically(args.out + "/compare.json", out.dump(2) + "\n");
  const nlohmann::json a = out["all_regions"];
  progress.end(fmt::format("{} cells matched: {} to a higher level, {} same, {} lower; {} moved by {} or more "
                           "(moved.csv); {} only in the old ratings, {} only in the new",
                           a["matched"].get<int64_t>(), a["improved"].get<int64_t>(), a["same"].get<int64_t>(),
                           a["worse"].get<int64_t>(), all.moved, args.min_change, only_old, only_new));
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand("compare", "Compare two ratings of the same cells (a yearly refresh)");
  sub->add_option("--ratings", args->ratings,
                  "The old, then the new ratings: ratings.h5, or the folder `resilinet rate` wrote")
      ->required()
      ->expected(2);
  sub->add_option("--out", args->out, "Output folder for compare.json and moved.csv / .geojson / .h5")
      ->capture_default_str();
  sub->add_option("--min-change", args->min_change, "Cells whose level moved by this many levels or more are listed")
      ->capture_default_str();
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] { run_compare(*args); });
}

}  // namespace resilinet
