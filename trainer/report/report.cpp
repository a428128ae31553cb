// Aggregation behind `resilinet report` (trainer/report/report.hpp) and its JSON form.
#include "trainer/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/input_error.hpp"
#include "trainer/model/model.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

constexpr uint64_t kMapSampleSeed = 0x6d6170;

std::string json_kind(const nlohmann::json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "a list";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "true or false";
  if (v.is_number()) return "a number";
  return "null";
}

bool is_object(const nlohmann::json& v) { return v.is_object(); }
bool is_list(const nlohmann::json& v) { return v.is_array(); }
bool is_string(const nlohmann::json& v) { return v.is_string(); }
bool is_number(const nlohmann::json& v) { return v.is_number(); }
// metrics.json holds null for a value that is not finite.
bool is_number_or_null(const nlohmann::json& v) { return v.is_number() || v.is_null(); }
bool is_level(const nlohmann::json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= std::numeric_limits<int32_t>::max();
}

// Checks a JSON input member by member; messages name the file, the option and the member's path.
class JsonShape {
 public:
  JsonShape(const std::string& file, const std::string& option) : file_(file), option_(option) {}

  // The member `key` of the object at `path`: nullptr when absent and not required, else checked by `ok`.
  const nlohmann::json* member(const nlohmann::json& object, const std::string& path, const std::string& key,
                               const char* expected, bool (*ok)(const nlohmann::json&), bool required = false) const {
    const std::string at = path.empty() ? key : path + "." + key;
    const auto it = object.find(key);
    if (it == object.end()) {
      if (required) throw InputError(file_, option_ + " " + at, expected, "nothing");
      return nullptr;
    }
    return &check(*it, at, expected, ok);
  }
  const nlohmann::json& check(const nlohmann::json& v, const std::string& at, const char* expected,
                              bool (*ok)(const nlohmann::json&)) const {
    if (!ok(v)) throw InputError(file_, option_ + " " + at, expected, json_kind(v));
    return v;
  }

 private:
  const std::string& file_;
  const std::string& option_;
};

}  // namespace

Report build_report(const Checkpoint& checkpoint, const ShardSet& data, Progress& progress,
                    size_t map_points_per_region) {
  const Model& m = checkpoint.model;
  const int K = m.clusters;
  const size_t F = size_t(m.features());
  const size_t slab = checkpoint.config.slab_rows;
  Report r;
  r.levels = K;
  r.has_hazard = data.has_hazard();
  for (const auto& f : m.schema.features) r.feature_names.push_back(f.name);
  for (const auto& name : data.region_names()) {
    RegionReport g;
    g.name = name;
    g.level_cells.assign(K, 0);
    if (r.has_hazard) g.risk_levels.assign(kRiskClasses, std::vector<uint64_t>(K, 0));
    r.regions.push_back(std::move(g));
  }

  // Pass 1: cells per region (for the map sample) and the hazard's risk classes.
  HazardSample hazard(data.total_rows());
  for_each_scaled_batch(data, slab, nullptr, 65536, [&](const Batch& b, const float*) {
    for (size_t i = 0; i < b.rows; ++i) ++r.regions[b.region[i]].cells;
    hazard.add(b);
  });
  if (r.has_hazard) r.hazard_cuts = hazard.cuts();
  const bool with_risk = r.has_hazard && !r.hazard_cuts.empty();

  // Pass 2: rate every cell and aggregate.
  std::vector<double> feature_sum(size_t(K) * F, 0.0), feature_count(size_t(K) * F, 0.0);
  RatingBuffers rated;
  size_t done = 0;
  progress.begin("report", data.total_rows());
  for_each_scaled_batch(data, slab, &m.scaler, 8192, [&](const Batch& b, const float* x) {
    rate_scaled(m, b.x, x, b.rows, rated, true);
    r.not_rated += mark_not_rated(rated, b.rows);
    for (size_t i = 0; i < b.rows; ++i) {
      RegionReport& g = r.regions[b.region[i]];
      const int32_t level = rated.level[i];
      if (level == kNotRated) continue;
      ++g.level_cells[level - 1];
      for (size_t f = 0; f < F; ++f) {
        const float v = b.x[i * F + f];
        if (std::isnan(v)) continue;
        feature_sum[(level - 1) * F + f] += v;
        feature_count[(level - 1) * F + f] += 1;
      }
      bool priority = false;
      if (with_risk && std::isfinite(b.hazard[i])) {
        const int risk = risk_class(r.hazard_cuts, b.hazard[i]);
        ++g.risk_levels[risk - 1][level - 1];
        priority = is_priority(risk, level);
        g.priority_cells += priority;
      }
      const double map_share = double(map_points_per_region) / double(std::max<uint64_t>(1, g.cells));
      if (map_share >= 1.0 || is_holdout(b.cell_id[i], kMapSampleSeed, map_share))
        g.map.push_back({b.lonlat[2 * i], b.lonlat[2 * i + 1], level, priority});
    }
    done += b.rows;
    progress.update(done, "", done);
  });
  progress.end(std::to_string(done) + " cells rated for the report");

  r.feature_means.assign(K, std::vector<double>(F, std::nan("")));
  for (int k = 0; k < K; ++k)
    for (size_t f = 0; f < F; ++f)
      if (feature_count[k * F + f] > 0) r.feature_means[k][f] = feature_sum[k * F + f] / feature_count[k * F + f];
  return r;
}

void check_report_metrics(const nlohmann::json& metrics, const std::string& file, const std::string& option) {
  if (metrics.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(metrics, "<top level>", "an object (metrics.json of a training run)", is_object);
  if (const auto* c = shape.member(metrics, "", "clusters", "an object", is_object)) {
    shape.member(*c, "clusters", "space", "a string", is_string);
    if (const auto* w = shape.member(*c, "clusters", "warnings", "a list of strings", is_list))
      for (size_t i = 0; i < w->size(); ++i)
        shape.check((*w)[i], "clusters.warnings[" + std::to_string(i) + "]", "a string", is_string);
    for (const char* key : {"restarts", "sample_cells", "restart_ari_mean", "restart_ari_min"})
      shape.member(*c, "clusters", key, "a number or null", is_number_or_null);
  }
  if (const auto* e = shape.member(metrics, "", "evaluation", "an object", is_object)) {
    for (const char* key : {"ari_planted", "ari_external", "kappa_external"})
      shape.member(*e, "evaluation", key, "a number or null", is_number_or_null);
    if (const auto* b = shape.member(*e, "evaluation", "baseline_kmeans", "an object", is_object))
      for (const char* key : {"ari_model", "ari_planted", "ari_external", "kappa_external"})
        shape.member(*b, "evaluation.baseline_kmeans", key, "a number or null", is_number_or_null);
  }
}

void check_report_explanations(const nlohmann::json& explanations, const std::string& file,
                               const std::string& option) {
  if (explanations.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(explanations, "<top level>", "an object (explain_summary.json of `resilinet explain`)", is_object);
  const auto* relevance = shape.member(explanations, "", "relevance", "an object (the relevance summary)", is_object, true);
  const auto* levels = shape.member(*relevance, "relevance", "levels", "a list of levels", is_list, true);
  for (size_t i = 0; i < levels->size(); ++i) {
    const std::string at = "relevance.levels[" + std::to_string(i) + "]";
    const auto& level = shape.check((*levels)[i], at, "an object", is_object);
    shape.member(level, at, "level", "an integer level from 1", is_level, true);
    const auto* top = shape.member(level, at, "top_features", "a list of features", is_list);
    for (size_t k = 0; top && k < top->size(); ++k) {
      const std::string feature = at + ".top_features[" + std::to_string(k) + "]";
      const auto& t = shape.check((*top)[k], feature, "an object", is_object);
      shape.member(t, feature, "name", "a string", is_string, true);
      shape.member(t, feature, "mean_abs", "a number", is_number, true);
    }
  }
}

nlohmann::json report_json(const Report& report, const nlohmann::json& metrics,
                           const nlohmann::json& explanations) {
  using nlohmann::json;
  const int K = report.levels;
  json regions = json::array();
  RegionReport total;
  total.name = "all regions";
  total.level_cells.assign(K, 0);
  if (report.has_hazard) total.risk_levels.assign(kRiskClasses, std::vector<uint64_t>(K, 0));
  auto region_json = [&](const RegionReport& g) {
    json shares = json::array();
    for (uint64_t c : g.level_cells) shares.push_back(g.cells ? double(c) / double(g.cells) : 0.0);
    json out = {{"name", g.name}, {"cells", g.cells}, {"level_cells", g.level_cells}, {"level_share", shares}};
    if (!g.risk_levels.empty()) {
      out["risk_by_level"] = g.risk_levels;
      out["priority_cells"] = g.priority_cells;
      out["priority_share"] = g.cells ? double(g.priority_cells) / double(g.cells) : 0.0;
    }
    return out;
  };
  for (const RegionReport& g : report.regions) {
    regions.push_back(region_json(g));
    total.cells += g.cells;
    total.priority_cells += g.priority_cells;
    for (int k = 0; k < K; ++k) total.level_cells[k] += g.level_cells[k];
    for (size_t c = 0; c < g.risk_levels.size(); ++c)
      for (int k = 0; k < K; ++k) total.risk_levels[c][k] += g.risk_levels[c][k];
  }
  json means = json::array();
  for (int k = 0; k < K; ++k) {
    json features = json::object();
    for (size_t f = 0; f < report.feature_names.size(); ++f) {
      const double v = report.feature_means[k][f];
      features[report.feature_names[f]] = std::isnan(v) ? json(nullptr) : json(v);
    }
    means.push_back({{"level", k + 1}, {"features", features}});
  }
  json out = {{"levels", K}, {"regions", regions}, {"all_regions", region_json(total)},
              {"not_rated_cells", report.not_rated},
              {"feature_means_by_level", means}};
  if (report.has_hazard)
    out["risk_classes"] = {{"cuts", report.hazard_cuts},
                           {"rule", "quintiles of /hazard over all cells; class 1 lowest, 5 highest; "
                                    "risk_by_level[class - 1][level - 1] counts cells; priority cells are "
                                    "risk classes 4-5 at levels 1-2"}};
  if (!metrics.is_null()) out["training_metrics"] = metrics;
  if (!explanations.is_null() && explanations.contains("relevance") && explanations["relevance"].contains("levels")) {
    json top = json::array();
    for (const auto& l : explanations["relevance"]["levels"])
      top.push_back({{"level", l.value("level", 0)}, {"top_features", l.value("top_features", json::array())}});
    out["relevance_top_features_by_level"] = top;
  }
  return out;
}

}  // namespace resilinet
