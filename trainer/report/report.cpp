// Aggregation behind `resilinet report` (trainer/report/report.hpp): one pass for the hazard cuts,
// region sizes and map extents, one that rates every cell and adds it to its region and to all
// regions. The JSON and HTML forms are in report_json.cpp and report_html.cpp; input checks in
// report_checks.cpp.
#include "trainer/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>

#include "trainer/model/model.hpp"
#include "trainer/outputs/rollup.hpp"
#include "trainer/report/report_views.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

constexpr uint64_t kMapSampleSeed = 0x6d6170;

// Sums of one region (or of all) while streaming; finish() turns them into a RegionReport.
struct RegionSums {
  RegionReport out;
  std::vector<double> signed_sum;             // [level][feature], direction * scaled
  std::vector<double> raw_sum, raw_count;     // [level][feature], observed raw values
  double map_share = 1.0;
  MapBounds bounds;  // of every cell, for a raster map

  RegionSums(std::string name, int levels, size_t features, bool with_hazard) {
    out.name = std::move(name);
    out.level_cells.assign(levels, 0);
    if (with_hazard) out.risk_levels.assign(kRiskClasses, std::vector<uint64_t>(levels, 0));
    signed_sum.assign(size_t(levels) * features, 0.0);
    raw_sum.assign(size_t(levels) * features, 0.0);
    raw_count.assign(size_t(levels) * features, 0.0);
  }

  void add(const Schema& schema, const float* raw, const float* scaled, int32_t level, int risk, bool priority) {
    const size_t F = schema.size();
    ++out.level_cells[level - 1];
    double* s = signed_sum.data() + size_t(level - 1) * F;
    double* rs = raw_sum.data() + size_t(level - 1) * F;
    double* rc = raw_count.data() + size_t(level - 1) * F;
    for (size_t f = 0; f < F; ++f) {
      s[f] += schema.features[f].direction * double(scaled[f]);
      if (std::isnan(raw[f])) continue;
      rs[f] += raw[f];
      rc[f] += 1;
    }
    if (risk > 0) ++out.risk_levels[risk - 1][level - 1];
    out.priority_cells += priority;
  }

  RegionReport finish(size_t features) && {
    const int K = int(out.level_cells.size());
    out.profile.assign(K, std::vector<double>(features, std::nan("")));
    out.raw_means.assign(K, std::vector<double>(features, std::nan("")));
    for (int k = 0; k < K; ++k)
      for (size_t f = 0; f < features; ++f) {
        const size_t i = size_t(k) * features + f;
        if (out.level_cells[k] > 0) out.profile[k][f] = signed_sum[i] / double(out.level_cells[k]);
        if (raw_count[i] > 0) out.raw_means[k][f] = raw_sum[i] / raw_count[i];
      }
    return std::move(out);
  }
};

// The highest-hazard priority cells, at most cap of them, whatever order the cells come in: a heap
// whose top is the weakest cell kept.
class PriorityList {
 public:
  explicit PriorityList(size_t cap) : cap_(cap) {}
  void add(const PriorityCell& c) {
    if (cap_ == 0) return;
    if (heap_.size() < cap_) {
      heap_.push(c);
    } else if (ranks_before(c, heap_.top())) {
      heap_.pop();
      heap_.push(c);
    }
  }
  // Highest hazard first; ties by cell id.
  std::vector<PriorityCell> sorted() && {
    std::vector<PriorityCell> out;
    while (!heap_.empty()) out.push_back(heap_.top()), heap_.pop();
    std::reverse(out.begin(), out.end());
    return out;
  }
  static bool ranks_before(const PriorityCell& a, const PriorityCell& b) {
    return a.hazard != b.hazard ? a.hazard > b.hazard : a.cell_id < b.cell_id;
  }

 private:
  struct Later {
    bool operator()(const PriorityCell& a, const PriorityCell& b) const { return ranks_before(a, b); }
  };
  size_t cap_;
  std::priority_queue<PriorityCell, std::vector<PriorityCell>, Later> heap_;
};

}  // namespace

Report build_report(const Checkpoint& checkpoint, const ShardSet& data, Progress& progress,
                    const ReportOptions& options) {
  const Model& m = checkpoint.model;
  const int K = m.clusters;
  const size_t F = size_t(m.features());
  const size_t slab = checkpoint.config.slab_rows;
  Report r;
  r.levels = K;
  r.schema = m.schema;
  r.config = checkpoint.config;
  for (const auto& s : data.shards()) r.shards.emplace_back(s.path, s.rows);
  r.has_hazard = data.has_hazard();
  r.hazard_unit = options.hazard_unit;
  r.priority_cap = options.priority_rows;
  std::vector<RegionSums> regions;
  for (const auto& name : data.region_names()) regions.emplace_back(name, K, F, r.has_hazard);
  RegionSums all("All regions", K, F, r.has_hazard);

  // Pass 1: cells per region (for the map samples), their extents (for the rasters) and the hazard's
  // risk classes.
  HazardSample hazard(data.total_rows());
  for_each_scaled_batch(data, slab, nullptr, 65536, [&](const Batch& b, const float*) {
    for (size_t i = 0; i < b.rows; ++i) {
      RegionSums& g = regions[b.region[i]];
      ++g.out.cells;
      g.bounds.add(b.lonlat[2 * i], b.lonlat[2 * i + 1]);
      all.bounds.add(b.lonlat[2 * i], b.lonlat[2 * i + 1]);
    }
    hazard.add(b);
  });
  if (r.has_hazard) r.hazard_cuts = hazard.cuts();
  const bool with_risk = r.has_hazard && !r.hazard_cuts.empty();
  all.out.cells = data.total_rows();
  // Each map: a sample of about map_points cells, or past map_cells a raster of every cell; none for
  // the regions beyond region_sections (the fewest cells).
  const auto plan_map = [&](RegionSums& g) {
    g.map_share = double(options.map_points) / double(std::max<uint64_t>(1, g.out.cells));
    if (g.out.cells > options.map_cells) g.out.raster.emplace(g.bounds, K);
  };
  std::vector<size_t> by_cells(regions.size());
  std::iota(by_cells.begin(), by_cells.end(), size_t(0));
  std::stable_sort(by_cells.begin(), by_cells.end(),
                   [&](size_t a, size_t b) { return regions[a].out.cells > regions[b].out.cells; });
  for (size_t rank = 0; rank < by_cells.size(); ++rank) {
    RegionSums& g = regions[by_cells[rank]];
    g.out.section = rank < options.region_sections;
    if (g.out.section)
      plan_map(g);
    else
      g.map_share = 0;
  }
  plan_map(all);

  // Pass 2: rate every cell and aggregate.
  PriorityList priority(options.priority_rows);
  double hazard_min = std::numeric_limits<double>::infinity(), hazard_max = -hazard_min;
  RatingBuffers rated;
  size_t done = 0;
  progress.begin("report", data.total_rows());
  Rollup rollup(data, K);
  for_each_scaled_batch(data, slab, &m.scaler, 8192, [&](const Batch& b, const float* x) {
    rate_scaled(m, b.x, x, b.rows, rated, true);
    const size_t not_rated = mark_not_rated(rated, b.rows);
    r.not_rated += not_rated;
    rollup.add(b, rated.level.data());
    for (size_t i = 0; i < b.rows; ++i) {
      RegionSums& g = regions[b.region[i]];
      const int32_t level = rated.level[i];
      if (level == kNotRated) {
        ++g.out.not_rated;
        ++all.out.not_rated;
        continue;
      }
      const int risk = with_risk ? risk_class(r.hazard_cuts, b.hazard[i]) : 0;
      const bool is_prio = is_priority(risk, level);
      if (risk > 0) {
        hazard_min = std::min(hazard_min, double(b.hazard[i]));
        hazard_max = std::max(hazard_max, double(b.hazard[i]));
      }
      g.add(m.schema, b.x + i * F, x + i * F, level, risk, is_prio);
      all.add(m.schema, b.x + i * F, x + i * F, level, risk, is_prio);
      const MapPoint point{b.lonlat[2 * i], b.lonlat[2 * i + 1], level, risk, is_prio};
      const int bivariate = risk > 0 ? resilience_bin(level, K) * kBivariateBins + risk_bin(risk) : kRasterNoRisk;
      for (RegionSums* s : {&g, &all}) {
        if (s->out.raster)
          s->out.raster->add(point.lon, point.lat, level, bivariate);
        else if (s->map_share >= 1.0 || (s->map_share > 0 && is_holdout(b.cell_id[i], kMapSampleSeed, s->map_share)))
          s->out.map.push_back(point);
      }
      if (is_prio)
        priority.add({b.cell_id[i], b.region[i], point.lon, point.lat, level, b.hazard[i], risk});
    }
    done += b.rows;
    progress.update(done, "", done);
  });
  progress.end(std::to_string(done) + " cells rated for the report");
  r.rollups = rollup.to_json();
  r.rollup_csv = rollup.to_csv();

  if (hazard_min <= hazard_max) r.hazard_min = hazard_min, r.hazard_max = hazard_max;
  for (RegionSums& g : regions) r.regions.push_back(std::move(g).finish(F));
  r.all = std::move(all).finish(F);
  r.priority = std::move(priority).sorted();
  return r;
}

}  // namespace resilinet
