// Ratings files over a per-cell table (trainer/outputs/ratings_writer.hpp).
#include "trainer/outputs/ratings_writer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "datasets/h5.hpp"
#include "trainer/outputs/risk_class.hpp"

namespace resilinet {

void level_probabilities(const RatingBuffers& r, size_t rows, int K, float* out) {
  for (size_t i = 0; i < rows; ++i) {
    float* p = out + i * size_t(K);
    if (r.level[i] == kNotRated) {
      std::fill_n(p, K, 0.0f);
      continue;
    }
    const float* logits = r.logits.data() + i * size_t(K);
    const float top = *std::max_element(logits, logits + K);
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(double(logits[k] - top));
    for (int k = 0; k < K; ++k) p[k] = float(std::exp(double(logits[k] - top)) / sum);
  }
}

struct RatingsWriter::Impl {
  int K = 0;
  bool with_hazard = false, with_latent = true;
  std::vector<double> cuts;
  std::unique_ptr<CellTableWriter> table;
  std::vector<float> p, hazard;
  std::vector<int8_t> risk, priority;
  size_t groupings = 0;
  std::vector<std::vector<int32_t>> group_codes;  // per grouping, the batch's codes
};

RatingsWriter::RatingsWriter(const std::string& out_dir, const std::vector<std::string>& region_names,
                             const Model& model, bool with_hazard, std::vector<double> hazard_cuts,
                             RatingsOutputs outputs, const std::vector<ShardGrouping>& groups, bool with_latent)
    : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.K = model.clusters;
  s.with_hazard = with_hazard;
  s.with_latent = with_latent;
  s.cuts = std::move(hazard_cuts);
  using T = CellColumn::Type;
  std::vector<CellColumn> columns = {
      {"level", T::Int32},
      {"cluster_level", T::Int32},
      {"p_level", T::Float32, s.K},
  };
  if (with_hazard) {
    columns.push_back({"hazard", T::Float32});
    columns.push_back({"risk_class", T::Int8});
    columns.push_back({"priority", T::Int8});
  }
  if (with_latent) {
    columns.push_back({"q", T::Float32, s.K, false, false});
    columns.push_back({"z", T::Float32, model.latent_dims(), true, false});
  }
  // Last, so that the columns before them stay where they were in files without groupings.
  for (const ShardGrouping& g : groups) columns.push_back({"group_" + g.name, T::Int32, 1, true, true, g.labels});
  s.groupings = groups.size();
  s.group_codes.resize(groups.size());
  s.table = std::make_unique<CellTableWriter>(out_dir, "ratings", "resilinet-ratings", 2, region_names,
                                              std::move(columns), outputs);
  if (const hid_t file = s.table->hdf5(); file >= 0) {
    // q is per cluster: the map says which level each cluster stands for.
    std::vector<int8_t> map(model.cluster_level.begin(), model.cluster_level.end());
    h5::write_int8_array_attribute(file, "cluster_level", map);
    if (with_hazard) h5::write_double_array_attribute(file, "hazard_cuts", s.cuts);
  }
}

RatingsWriter::~RatingsWriter() = default;

size_t RatingsWriter::rows() const { return impl_->table->rows(); }

void RatingsWriter::append(const Batch& b, const RatingBuffers& r) {
  auto& s = *impl_;
  s.p.resize(b.rows * size_t(s.K));
  level_probabilities(r, b.rows, s.K, s.p.data());
  std::vector<const void*> values = {r.level.data(), r.cluster_level.data(), s.p.data()};
  if (s.with_hazard) {
    s.hazard.assign(b.hazard, b.hazard + b.rows);
    s.risk.resize(b.rows);
    s.priority.resize(b.rows);
    for (size_t i = 0; i < b.rows; ++i) {
      s.risk[i] = int8_t(risk_class(s.cuts, b.hazard[i]));
      s.priority[i] = is_priority(s.risk[i], r.level[i]);
    }
    values.insert(values.end(), {s.hazard.data(), s.risk.data(), s.priority.data()});
  }
  if (s.with_latent) values.insert(values.end(), {r.q.data(), r.z.data()});
  if (b.groupings != s.groupings)
    throw std::logic_error("RatingsWriter::append: a batch of " + std::to_string(b.groupings) + " groupings for " +
                           std::to_string(s.groupings));
  for (size_t g = 0; g < s.groupings; ++g) {
    s.group_codes[g].resize(b.rows);
    for (size_t i = 0; i < b.rows; ++i) s.group_codes[g][i] = int32_t(b.groups[i * s.groupings + g]);
    values.push_back(s.group_codes[g].data());
  }
  s.table->append(b, values);
}

void RatingsWriter::commit() { impl_->table->commit(); }

}  // namespace resilinet
