// Streaming per-level summaries of relevance and of perturbation sensitivity (explain_summary.hpp).
// Sums are doubles added in row order; means and shares are formed only in to_json. Not the LRP
// computation itself (kernels/cpu/lrp.cpp), and not the explain command's I/O.
#include "trainer/explain/explain_summary.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace resilinet {
namespace {

void check_levels(const int32_t* levels, size_t rows, int max_level) {
  for (size_t r = 0; r < rows; ++r)
    if (levels[r] < 0 || levels[r] > max_level)  // 0: a cell not rated, left out
      throw std::invalid_argument("explain summary: level " + std::to_string(levels[r]) +
                                  " of row " + std::to_string(r) + " is outside 1.." +
                                  std::to_string(max_level));
}

void check_schema(const Schema& schema, int levels) {
  if (schema.size() == 0)
    throw std::invalid_argument("explain summary: the schema has no features");
  if (levels < 1) throw std::invalid_argument("explain summary: levels must be >= 1");
}

// Index of each name in `names`, appending names not seen yet.
int index_of(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return int(it - names.begin());
  names.push_back(name);
  return int(names.size()) - 1;
}

nlohmann::json mean_or_null(double sum, uint64_t count) {
  return count ? nlohmann::json(sum / double(count)) : nlohmann::json(nullptr);
}

nlohmann::json share_or_null(uint64_t part, uint64_t whole) {
  return whole ? nlohmann::json(double(part) / double(whole)) : nlohmann::json(nullptr);
}

}  // namespace

RelevanceSummary::RelevanceSummary(Schema schema, int levels)
    : schema_(std::move(schema)), levels_(levels) {
  check_schema(schema_, levels_);
  systems_ = schema_.systems();
  for (const auto& known : known_components())
    for (const auto& f : schema_.features)
      if (f.component == known) {
        components_.push_back(known);
        break;
      }
  for (const auto& f : schema_.features) {
    system_of_.push_back(index_of(systems_, f.system));
    component_of_.push_back(index_of(components_, f.component));
  }
  // Index 0 .. levels-1 are the levels; sums for all cells are formed in to_json.
  const size_t L = size_t(levels_), F = schema_.size();
  count_.assign(L, 0);
  feature_sum_.assign(L * F, 0.0);
  feature_abs_.assign(L * F, 0.0);
  system_sum_.assign(L * systems_.size(), 0.0);
  system_abs_.assign(L * systems_.size(), 0.0);
  component_sum_.assign(L * components_.size(), 0.0);
  component_abs_.assign(L * components_.size(), 0.0);
  group_scratch_.assign(systems_.size() + components_.size(), 0.0);
}

void RelevanceSummary::add(const float* relevance, const int32_t* levels, size_t rows) {
  check_levels(levels, rows, levels_);
  const size_t F = schema_.size(), S = systems_.size(), C = components_.size();
  double* system_cell = group_scratch_.data();
  double* component_cell = system_cell + S;
  for (size_t r = 0; r < rows; ++r) {
    if (levels[r] == 0) continue;
    const size_t L = size_t(levels[r] - 1);
    const float* row = relevance + r * F;
    ++count_[L];
    std::fill(group_scratch_.begin(), group_scratch_.end(), 0.0);
    for (size_t f = 0; f < F; ++f) {
      const double v = row[f];
      feature_sum_[L * F + f] += v;
      feature_abs_[L * F + f] += std::abs(v);
      system_cell[system_of_[f]] += v;
      component_cell[component_of_[f]] += v;
    }
    for (size_t s = 0; s < S; ++s) {
      system_sum_[L * S + s] += system_cell[s];
      system_abs_[L * S + s] += std::abs(system_cell[s]);
    }
    for (size_t c = 0; c < C; ++c) {
      component_sum_[L * C + c] += component_cell[c];
      component_abs_[L * C + c] += std::abs(component_cell[c]);
    }
  }
}

void RelevanceSummary::merge(const RelevanceSummary& other) {
  if (!(other.schema_ == schema_) || other.levels_ != levels_)
    throw std::invalid_argument(
        "explain summary: merging summaries of different schemas or levels");
  auto add_into = [](auto& into, const auto& from) {
    for (size_t k = 0; k < into.size(); ++k) into[k] += from[k];
  };
  add_into(count_, other.count_);
  add_into(feature_sum_, other.feature_sum_);
  add_into(feature_abs_, other.feature_abs_);
  add_into(system_sum_, other.system_sum_);
  add_into(system_abs_, other.system_abs_);
  add_into(component_sum_, other.component_sum_);
  add_into(component_abs_, other.component_abs_);
}

namespace {
// The buffers of a summary one after another, into `out` or from `in`.
template <class Out, class... Buffers>
void pack(Out& out, const Buffers&... buffers) {
  out.clear();
  (out.insert(out.end(), buffers.begin(), buffers.end()), ...);
}
template <class In, class... Buffers>
void unpack(const In& in, const char* what, Buffers&... buffers) {
  if (in.size() != (buffers.size() + ...))
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(in.size()) + " values for " +
                                std::to_string((buffers.size() + ...)));
  size_t at = 0;
  ((std::copy(in.begin() + ptrdiff_t(at), in.begin() + ptrdiff_t(at + buffers.size()), buffers.begin()),
    at += buffers.size()),
   ...);
}
}  // namespace

std::vector<double> RelevanceSummary::sums() const {
  std::vector<double> out;
  const std::vector<double> counts(count_.begin(), count_.end());
  pack(out, counts, feature_sum_, feature_abs_, system_sum_, system_abs_, component_sum_, component_abs_);
  return out;
}

void RelevanceSummary::set_sums(const std::vector<double>& in) {
  std::vector<double> counts(count_.size());
  unpack(in, "explain summary: set_sums", counts, feature_sum_, feature_abs_, system_sum_, system_abs_, component_sum_,
         component_abs_);
  for (size_t k = 0; k < counts.size(); ++k) count_[k] = uint64_t(counts[k]);
}

uint64_t RelevanceSummary::cells() const {
  return std::accumulate(count_.begin(), count_.end(), uint64_t(0));
}

nlohmann::json RelevanceSummary::to_json() const {
  const size_t F = schema_.size(), S = systems_.size(), C = components_.size();
  // One block of the report from the sums of one level (or of all levels).
  auto block = [&](uint64_t n, const double* fs, const double* fa, const double* ss,
                   const double* sa, const double* cs, const double* ca) {
    nlohmann::json features = nlohmann::json::array(), systems = nlohmann::json::array(),
                   components = nlohmann::json::array(), top = nlohmann::json::array();
    for (size_t f = 0; f < F; ++f)
      features.push_back({{"name", schema_.features[f].name},
                          {"system", schema_.features[f].system},
                          {"component", schema_.features[f].component},
                          {"mean", mean_or_null(fs[f], n)},
                          {"mean_abs", mean_or_null(fa[f], n)}});
    for (size_t s = 0; s < S; ++s)
      systems.push_back({{"name", systems_[s]},
                         {"mean", mean_or_null(ss[s], n)},
                         {"mean_abs", mean_or_null(sa[s], n)}});
    for (size_t c = 0; c < C; ++c)
      components.push_back({{"name", components_[c]},
                            {"mean", mean_or_null(cs[c], n)},
                            {"mean_abs", mean_or_null(ca[c], n)}});
    if (n) {
      std::vector<size_t> order(F);
      std::iota(order.begin(), order.end(), size_t(0));
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return fa[a] > fa[b]; });
      for (size_t k = 0; k < std::min<size_t>(3, F); ++k)
        top.push_back(
            {{"name", schema_.features[order[k]].name}, {"mean_abs", fa[order[k]] / double(n)}});
    }
    return nlohmann::json{{"cells", n},
                          {"features", features},
                          {"systems", systems},
                          {"components", components},
                          {"top_features", top}};
  };

  nlohmann::json levels = nlohmann::json::array();
  std::vector<double> all_fs(F, 0.0), all_fa(F, 0.0), all_ss(S, 0.0), all_sa(S, 0.0),
      all_cs(C, 0.0), all_ca(C, 0.0);
  for (int level = 1; level <= levels_; ++level) {
    const size_t L = size_t(level - 1);
    nlohmann::json b =
        block(count_[L], &feature_sum_[L * F], &feature_abs_[L * F],
              S ? &system_sum_[L * S] : nullptr, S ? &system_abs_[L * S] : nullptr,
              C ? &component_sum_[L * C] : nullptr, C ? &component_abs_[L * C] : nullptr);
    b["level"] = level;
    levels.push_back(std::move(b));
    for (size_t f = 0; f < F; ++f) {
      all_fs[f] += feature_sum_[L * F + f];
      all_fa[f] += feature_abs_[L * F + f];
    }
    for (size_t s = 0; s < S; ++s) {
      all_ss[s] += system_sum_[L * S + s];
      all_sa[s] += system_abs_[L * S + s];
    }
    for (size_t c = 0; c < C; ++c) {
      all_cs[c] += component_sum_[L * C + c];
      all_ca[c] += component_abs_[L * C + c];
    }
  }
  return nlohmann::json{{"kind", "relevance_summary"},
                        {"cells", cells()},
                        {"levels", levels},
                        {"all", block(cells(), all_fs.data(), all_fa.data(), all_ss.data(),
                                      all_sa.data(), all_cs.data(), all_ca.data())}};
}

PerturbationSensitivity::PerturbationSensitivity(Schema schema, double delta, int levels)
    : schema_(std::move(schema)), delta_(delta), levels_(levels) {
  check_schema(schema_, levels_);
  if (!std::isfinite(delta_) || delta_ <= 0)
    throw std::invalid_argument("perturbation sensitivity: delta must be > 0, found " +
                                std::to_string(delta_));
  const size_t cells = 2 * schema_.size() * size_t(levels_);
  count_.assign(size_t(levels_), 0);
  changed_.assign(cells, 0);
  up_.assign(cells, 0);
  down_.assign(cells, 0);
}

void PerturbationSensitivity::add(const RateFunction& rate, const float* x, const int32_t* levels,
                                  size_t rows) {
  check_levels(levels, rows, levels_);
  if (rows == 0) return;
  const size_t F = schema_.size(), L = size_t(levels_);
  work_.assign(x, x + rows * F);
  rated_.resize(rows);
  for (size_t r = 0; r < rows; ++r)
    if (levels[r] != 0) ++count_[size_t(levels[r] - 1)];
  for (size_t sign = 0; sign < 2; ++sign) {
    const float step = float(sign == 0 ? delta_ : -delta_);
    for (size_t f = 0; f < F; ++f) {
      for (size_t r = 0; r < rows; ++r) work_[r * F + f] = x[r * F + f] + step;
      rate(work_.data(), rows, rated_.data());
      for (size_t r = 0; r < rows; ++r) work_[r * F + f] = x[r * F + f];
      const size_t base = (sign * F + f) * L;
      for (size_t r = 0; r < rows; ++r) {
        if (levels[r] == 0) continue;
        const size_t at = base + size_t(levels[r] - 1);
        if (rated_[r] != levels[r]) ++changed_[at];
        if (rated_[r] > levels[r]) ++up_[at];
        if (rated_[r] < levels[r]) ++down_[at];
      }
    }
  }
}

std::vector<int64_t> PerturbationSensitivity::counts() const {
  std::vector<int64_t> out;
  pack(out, count_, changed_, up_, down_);
  return out;
}

void PerturbationSensitivity::set_counts(const std::vector<int64_t>& in) {
  unpack(in, "perturbation sensitivity: set_counts", count_, changed_, up_, down_);
}

uint64_t PerturbationSensitivity::cells() const {
  return std::accumulate(count_.begin(), count_.end(), uint64_t(0));
}

nlohmann::json PerturbationSensitivity::to_json() const {
  const size_t F = schema_.size(), L = size_t(levels_);
  const uint64_t n = cells();
  nlohmann::json features = nlohmann::json::array();
  for (size_t f = 0; f < F; ++f) {
    nlohmann::json entry = {{"name", schema_.features[f].name}};
    for (size_t sign = 0; sign < 2; ++sign) {
      const size_t base = (sign * F + f) * L;
      uint64_t changed = 0, up = 0, down = 0;
      nlohmann::json per_level = nlohmann::json::array();
      for (size_t l = 0; l < L; ++l) {
        changed += changed_[base + l];
        up += up_[base + l];
        down += down_[base + l];
        per_level.push_back(share_or_null(changed_[base + l], count_[l]));
      }
      entry[sign == 0 ? "plus" : "minus"] = {{"changed", share_or_null(changed, n)},
                                             {"up", share_or_null(up, n)},
                                             {"down", share_or_null(down, n)},
                                             {"changed_per_level", per_level}};
    }
    features.push_back(std::move(entry));
  }
  return nlohmann::json{{"kind", "perturbation_sensitivity"},
                        {"delta", delta_},
                        {"cells", n},
                        {"cells_per_level", count_},
                        {"features", features}};
}

}  // namespace resilinet
