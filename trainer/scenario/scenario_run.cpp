// The streaming scenario pass (trainer/scenario/scenario_run.hpp).
#include "trainer/scenario/scenario_run.hpp"

#include <cmath>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "trainer/explain/explain_config.hpp"
#include "trainer/explain/head_on_backend.hpp"
#include "trainer/model/model.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/scenario/goal_seek.hpp"
#include "trainer/scenario/scenario_edit.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

// LRP relevance of the classifier head seeded at each cell's level; zeros for a cell not rated.
void relevance_at_levels(HeadOnBackend& head, const float* scaled, const int32_t* level, size_t rows, size_t F,
                         std::vector<int32_t>& classes, float* out) {
  classes.resize(rows);
  for (size_t i = 0; i < rows; ++i) classes[i] = std::max(level[i] - 1, 0);
  head.relevance(scaled, rows, classes.data(), out);
  for (size_t i = 0; i < rows; ++i)
    if (level[i] == kNotRated) std::fill_n(out + i * F, F, 0.0f);
}

// What one scenario has seen so far, and its cells table.
struct Tally {
  std::vector<int64_t> edit_cells;        // cells each edit selected
  std::vector<int64_t> transitions;       // [(K + 1) x (K + 1)], before x after, level 0 = not rated
  std::vector<std::array<int64_t, 4>> regions;  // per region: edited, improved, same, worse
  int64_t edited = 0, out_of_range = 0;
  std::vector<int64_t> feature_cells, feature_out_of_range, relevance_cells;  // per feature
  std::vector<double> relevance_before, relevance_after;                      // sums per feature
  int64_t goal_reached = 0, goal_already = 0;
  std::vector<int64_t> goal_by_feature;
  std::unique_ptr<CellTableWriter> table;
};

bool has_bit(const uint64_t* words, size_t f) { return (words[f / 64] >> (f % 64)) & 1; }

template <typename T>
void gather(const T* from, const std::vector<size_t>& rows, size_t width, std::vector<T>& to) {
  to.resize(rows.size() * width);
  for (size_t j = 0; j < rows.size(); ++j) std::copy_n(from + rows[j] * width, width, to.data() + j * width);
}

const char* action_name(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::Set: return "set";
    case Action::Kind::Add: return "add";
    case Action::Kind::Scale: return "scale";
    case Action::Kind::Facility: return "facility";
  }
  return "";
}

}  // namespace

nlohmann::json run_scenarios(const Checkpoint& checkpoint, const ShardSet& data, const ScenarioFile& file,
                             kernels::Backend& backend, const ScenarioRunOptions& options, Progress& progress) {
  const Model& model = checkpoint.model;
  const int K = model.clusters;
  const size_t F = size_t(model.features()), W = (F + 63) / 64, R = data.region_names().size();
  const std::vector<std::string> features = model.schema.names();
  const bool goal = options.target_level > 0;

  make_output_dir(options.out, "--out");
  // Scenario folders this run makes, removed again (when empty) if it fails.
  std::vector<std::string> made;
  std::vector<Tally> tallies(file.scenarios.size());
  const auto cleanup = [&] {
    for (Tally& t : tallies) t.table.reset();
    std::error_code ignored;
    for (const std::string& dir : made) std::filesystem::remove(dir, ignored);
  };
  try {
    using T = CellColumn::Type;
    std::vector<CellColumn> columns = {{"level_before", T::Int32}, {"level_after", T::Int32},
                                       {"change", T::Int32}, {"out_of_range", T::Int8}};
    if (goal) {
      columns.push_back({"goal_reached", T::Int8});
      columns.push_back({"goal_feature", T::Int32, 1, true, true, features});
      columns.push_back({"goal_value", T::Float32});
      columns.push_back({"goal_change", T::Float32});
    }
    for (size_t s = 0; s < file.scenarios.size(); ++s) {
      Tally& t = tallies[s];
      const std::string dir = options.out + "/" + file.scenarios[s].name;
      std::error_code ec;
      if (!std::filesystem::exists(dir, ec)) made.push_back(dir);
      t.table = std::make_unique<CellTableWriter>(dir, "cells", "resilinet-scenario-cells", 1, data.region_names(),
                                                  columns, options.files);
      t.edit_cells.assign(file.scenarios[s].edits.size(), 0);
      t.transitions.assign(size_t(K + 1) * size_t(K + 1), 0);
      t.regions.assign(R, {0, 0, 0, 0});
      t.feature_cells.assign(F, 0);
      t.feature_out_of_range.assign(F, 0);
      t.relevance_cells.assign(F, 0);
      t.relevance_before.assign(F, 0.0);
      t.relevance_after.assign(F, 0.0);
      t.goal_by_feature.assign(F, 0);
    }

    const ModelOnBackend on_backend(model, backend);
    // The default composite of `explain` (its config without --config).
    HeadOnBackend head(model, backend, build_composite(load_explain_config(""), model));
    std::vector<int32_t> classes;
    RatingBuffers before, after;
    std::vector<size_t> rows;
    std::vector<float> raw, scaled, scaled_before, raw_before, lrp_before, lrp_after;
    std::vector<uint64_t> edited_features;
    std::vector<int32_t> level_before, change, goal_feature;
    std::vector<int8_t> out_of_range, goal_reached;
    std::vector<float> goal_value, goal_change;
    std::vector<GoalResult> goals;
    std::vector<int64_t> cell_id;
    std::vector<uint32_t> region;
    std::vector<double> lonlat;
    uint64_t done = 0;
    progress.begin("scenario", data.total_rows());
    for_each_scaled_batch(data, checkpoint.config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
      rate_scaled(on_backend, b.x, x, b.rows, before, true);
      mark_not_rated(before, b.rows);
      for (size_t s = 0; s < file.scenarios.size(); ++s) {
        const Scenario& scenario = file.scenarios[s];
        Tally& t = tallies[s];
        // Edit the cells that any edit selects, each edit in turn, on a copy of their raw values.
        rows.clear();
        raw.clear();
        edited_features.clear();
        for (size_t i = 0; i < b.rows; ++i) {
          const CellView cell{b.cell_id[i], b.region[i], b.lonlat[2 * i], b.lonlat[2 * i + 1], before.level[i],
                              b.x + i * F};
          bool selected = false;
          for (size_t e = 0; e < scenario.edits.size(); ++e) {
            if (!edit_selects(scenario.edits[e], cell)) continue;
            if (!selected) {
              selected = true;
              rows.push_back(i);
              raw.insert(raw.end(), cell.x, cell.x + F);
              edited_features.resize(edited_features.size() + W, 0);
            }
            apply_edit(scenario.edits[e], raw.data() + raw.size() - F, edited_features.data() + edited_features.size() - W);
            ++t.edit_cells[e];
          }
        }
        const size_t n = rows.size();
        if (n == 0) continue;
        scaled.resize(n * F);
        model.scaler.transform(raw.data(), n, scaled.data());
        rate_scaled(on_backend, raw.data(), scaled.data(), n, after, true);
        mark_not_rated(after, n);

        level_before.resize(n);
        change.resize(n);
        out_of_range.assign(n, 0);
        for (size_t j = 0; j < n; ++j) {
          const int32_t a = before.level[rows[j]], z = after.level[j];
          level_before[j] = a;
          change[j] = (a == kNotRated || z == kNotRated) ? 0 : z - a;
          ++t.transitions[size_t(a) * size_t(K + 1) + size_t(z)];
          auto& g = t.regions[b.region[rows[j]]];
          ++g[0];
          if (a != kNotRated && z != kNotRated) ++g[z > a ? 1 : z == a ? 2 : 3];
          for (size_t f = 0; f < F; ++f) {
            if (!has_bit(edited_features.data() + j * W, f)) continue;
            ++t.feature_cells[f];
            const float v = raw[j * F + f];
            if (!std::isnan(v) && !(v >= model.scaler.min[f] && v <= model.scaler.max[f])) {
              ++t.feature_out_of_range[f];
              out_of_range[j] = 1;
            }
          }
          t.out_of_range += out_of_range[j];
        }
        t.edited += int64_t(n);

        // Relevance of the edited features, before (seeded at the level before) and after.
        gather(x, rows, F, scaled_before);
        lrp_before.resize(n * F);
        lrp_after.resize(n * F);
        relevance_at_levels(head, scaled_before.data(), level_before.data(), n, F, classes, lrp_before.data());
        relevance_at_levels(head, scaled.data(), after.level.data(), n, F, classes, lrp_after.data());
        for (size_t j = 0; j < n; ++j) {
          if (level_before[j] == kNotRated || after.level[j] == kNotRated) continue;
          for (size_t f = 0; f < F; ++f) {
            if (!has_bit(edited_features.data() + j * W, f)) continue;
            ++t.relevance_cells[f];
            t.relevance_before[f] += lrp_before[j * F + f];
            t.relevance_after[f] += lrp_after[j * F + f];
          }
        }

        std::vector<const void*> values = {level_before.data(), after.level.data(), change.data(), out_of_range.data()};
        if (goal) {
          gather(b.x, rows, F, raw_before);
          goals.resize(n);
          seek_level(model, head, raw_before.data(), level_before.data(), n, options.target_level, goals.data());
          goal_reached.resize(n);
          goal_feature.resize(n);
          goal_value.resize(n);
          goal_change.resize(n);
          for (size_t j = 0; j < n; ++j) {
            const GoalResult& r = goals[j];
            goal_reached[j] = r.reached;
            goal_feature[j] = r.feature;
            // No answer (already at the target, or none found): no feature, and zeros rather than NaN.
            goal_value[j] = r.feature >= 0 ? r.value : 0.0f;
            goal_change[j] = r.feature >= 0 ? r.change : 0.0f;
            t.goal_reached += r.reached;
            t.goal_already += r.reached && r.feature < 0;
            if (r.feature >= 0) ++t.goal_by_feature[size_t(r.feature)];
          }
          values.insert(values.end(), {goal_reached.data(), goal_feature.data(), goal_value.data(), goal_change.data()});
        }
        gather(b.cell_id, rows, 1, cell_id);
        gather(b.region, rows, 1, region);
        gather(b.lonlat, rows, 2, lonlat);
        Batch edited;
        edited.rows = n;
        edited.features = F;
        edited.x = raw.data();
        edited.cell_id = cell_id.data();
        edited.region = region.data();
        edited.lonlat = lonlat.data();
        t.table->append(edited, values);
      }
      done += b.rows;
      progress.update(done, "", done);
    });

    // An edit that selects nothing is a mistake in the file (a bounding box off the map, a level
    // no cell has): refuse before anything is written.
    for (size_t s = 0; s < file.scenarios.size(); ++s)
      for (size_t e = 0; e < file.scenarios[s].edits.size(); ++e)
        if (tallies[s].edit_cells[e] == 0)
          throw InputError(file.path, file.scenarios[s].edits[e].where + ".select",
                           "a selection that holds at least one cell of the data", "no cell (" + options.data_pattern + ")");

    nlohmann::json out = {{"format", "resilinet-scenario-summary"},
                          {"format_version", 1},
                          {"checkpoint", options.checkpoint_path},
                          {"data", options.data_pattern},
                          {"scenario_file", file.path},
                          {"levels", K},
                          {"cells", done},
                          {"target_level", goal ? nlohmann::json(options.target_level) : nlohmann::json(nullptr)},
                          {"scenarios", nlohmann::json::array()}};
    for (size_t s = 0; s < file.scenarios.size(); ++s) {
      const Scenario& scenario = file.scenarios[s];
      Tally& t = tallies[s];
      nlohmann::json edits = nlohmann::json::array();
      for (size_t e = 0; e < scenario.edits.size(); ++e) {
        const Action& a = scenario.edits[e].action;
        nlohmann::json names = nlohmann::json::array();
        if (a.kind == Action::Kind::Facility) names.push_back(features[size_t(a.feature)]);
        for (const auto& [f, v] : a.values) names.push_back(features[size_t(f)]);
        edits.push_back({{"edit", e}, {"action", action_name(a.kind)}, {"features", names}, {"cells", t.edit_cells[e]}});
      }
      // Transitions between rated levels, [before - 1][after - 1]; cells not rated are counted apart.
      nlohmann::json transitions = nlohmann::json::array();
      int64_t not_rated_before = 0, not_rated_after = 0, improved = 0, same = 0, worse = 0;
      for (int a = 0; a <= K; ++a) {
        nlohmann::json row = nlohmann::json::array();
        for (int z = 0; z <= K; ++z) {
          const int64_t c = t.transitions[size_t(a) * size_t(K + 1) + size_t(z)];
          if (a == 0) not_rated_before += c;
          if (z == 0 && a != 0) not_rated_after += c;
          if (a == 0 || z == 0) continue;
          row.push_back(c);
          (z > a ? improved : z == a ? same : worse) += c;
        }
        if (a > 0) transitions.push_back(row);
      }
      nlohmann::json regions = nlohmann::json::array();
      for (size_t r = 0; r < R; ++r)
        if (t.regions[r][0] > 0)
          regions.push_back({{"name", data.region_names()[r]},
                             {"cells_edited", t.regions[r][0]},
                             {"improved", t.regions[r][1]},
                             {"same", t.regions[r][2]},
                             {"worse", t.regions[r][3]}});
      nlohmann::json edited = nlohmann::json::array();
      for (size_t f = 0; f < F; ++f) {
        if (t.feature_cells[f] == 0) continue;
        const double cells = double(std::max<int64_t>(1, t.relevance_cells[f]));
        edited.push_back({{"name", features[f]},
                          {"cells", t.feature_cells[f]},
                          {"out_of_range_cells", t.feature_out_of_range[f]},
                          {"relevance_before", t.relevance_before[f] / cells},
                          {"relevance_after", t.relevance_after[f] / cells}});
      }
      nlohmann::json summary = {{"name", scenario.name},
                                {"description", scenario.description},
                                {"folder", scenario.name},
                                {"edits", edits},
                                {"cells_edited", t.edited},
                                {"transitions", transitions},
                                {"improved", improved},
                                {"same", same},
                                {"worse", worse},
                                {"not_rated_before", not_rated_before},
                                {"not_rated_after", not_rated_after},
                                {"out_of_range_cells", t.out_of_range},
                                {"regions", regions},
                                {"edited_features", edited}};
      if (goal) {
        nlohmann::json by_feature = nlohmann::json::object();
        for (size_t f = 0; f < F; ++f)
          if (t.goal_by_feature[f] > 0) by_feature[features[f]] = t.goal_by_feature[f];
        summary["goal"] = {{"target_level", options.target_level},
                           {"cells", t.edited},
                           {"reached", t.goal_reached},
                           {"already_at_target", t.goal_already},
                           {"not_reachable", t.edited - t.goal_reached},
                           {"by_feature", by_feature}};
      }
      out["scenarios"].push_back(summary);
    }
    for (Tally& t : tallies) t.table->commit();
    write_text_atomically(options.out + "/scenario_summary.json", out.dump(2) + "\n");
    progress.end(fmt::format("{} cells, {} scenario(s) into {}", done, file.scenarios.size(), options.out));
    return out;
  } catch (...) {
    cleanup();
    throw;
  }
}

}  // namespace resilinet
