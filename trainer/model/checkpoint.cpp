// Checkpoint writing and reading over the HDF5 RAII layer (datasets/h5.hpp). The model's layouts are
// rebuilt from the stored config and schema and checked against the stored layout tables.
#include "trainer/model/checkpoint.hpp"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "datasets/atomic_h5_file.hpp"
#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/untrusted_file.hpp"

namespace resilinet {
namespace {

using Group = h5::Handle<H5Gclose>;

Group create_group(hid_t parent, const std::string& name) {
  return Group(RESILINET_H5(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
}

template <class T> hid_t file_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_IEEE_F32LE;
  else if constexpr (std::is_same_v<T, double>) return H5T_IEEE_F64LE;
  else if constexpr (std::is_same_v<T, int32_t>) return H5T_STD_I32LE;
  else if constexpr (std::is_same_v<T, int64_t>) return H5T_STD_I64LE;
  else if constexpr (std::is_same_v<T, int8_t>) return H5T_STD_I8LE;
  else return H5T_STD_U64LE;
}
template <class T> hid_t memory_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, int8_t>) return H5T_NATIVE_INT8;
  else return H5T_NATIVE_UINT64;
}

// A [rows] or [rows x columns] array (columns = 0 for 1-D).
template <class T>
void write_array(hid_t loc, const std::string& name, const std::vector<T>& values, hsize_t columns = 0) {
  const hsize_t width = columns ? columns : 1;
  const hsize_t rows = values.size() / width;
  auto ds = h5::create_row_dataset(loc, name, file_type<T>(), columns, std::max<hsize_t>(rows, 1), 0);
  if (rows) h5::write_rows(ds, memory_type<T>(), 0, rows, values.data());
}

template <class T>
std::vector<T> read_array(hid_t loc, const std::string& name, const std::string& file) {
  if (!h5::has_link(loc, name)) throw InputError(file, name, "a dataset in the checkpoint", "missing");
  auto ds = h5::open_row_dataset(loc, name);
  auto dims = h5::dataset_dims(ds);
  // Every checkpoint array has rows (a scalar dataspace has no dims to read by); the product of a
  // corrupt file's dims must not wrap.
  if (dims.empty()) throw InputError(file, name, "an array of rows", "a scalar");
  size_t n = 1;
  for (auto d : dims) {
    if (d != 0 && n > (size_t(1) << 40) / d) throw InputError(file, name, "an array of at most 2^40 values", "more");
    n *= d;
  }
  std::vector<T> out(n);
  if (n) h5::read_rows(ds, memory_type<T>(), 0, dims[0], out.data());
  return out;
}

std::string read_string(hid_t loc, const std::string& name, const std::string& file) {
  if (!h5::has_attribute(loc, name)) throw InputError(file, name, "an attribute of the checkpoint", "missing");
  auto v = h5::read_strings(h5::open_attribute(loc, name));
  if (v.size() != 1) throw InputError(file, name, "one string", std::to_string(v.size()) + " values");
  return v[0];
}

std::vector<std::string> read_string_array(hid_t loc, const std::string& name, const std::string& file) {
  if (!h5::has_attribute(loc, name)) throw InputError(file, name, "an attribute of the checkpoint", "missing");
  std::vector<std::string> values = h5::read_strings(h5::open_attribute(loc, name));
  for (size_t i = 0; i < values.size(); ++i)
    check_name(file, name + "[" + std::to_string(i) + "]", values[i]);
  return values;
}

// Layout table: one row per layer: in, out, activation, weight_offset, bias_offset, grouped.
std::vector<int64_t> layout_table(const kernels::MlpLayout& layout) {
  std::vector<int64_t> t;
  for (const auto& l : layout.layers)
    t.insert(t.end(), {l.in, l.out, int64_t(l.act), int64_t(l.weight_offset), int64_t(l.bias_offset),
                       int64_t(!l.mask.empty())});
  return t;
}

void write_network(hid_t file, const std::string& name, const kernels::MlpLayout& layout,
                   const std::vector<float>& params) {
  auto g = create_group(file, name);
  write_array(g, "params", params);
  write_array(g, "layout", layout_table(layout), 6);
  h5::write_string_array_attribute(g, "layout_columns",
                                   {"in", "out", "activation", "weight_offset", "bias_offset", "grouped"});
}

std::vector<float> read_network(hid_t file, const std::string& name, const kernels::MlpLayout& expected,
                                const std::string& path) {
  if (!h5::has_link(file, name)) throw InputError(path, name, "a network group", "missing");
  Group g(RESILINET_H5(H5Gopen2(file, name.c_str(), H5P_DEFAULT)));
  auto table = read_array<int64_t>(g, "layout", path);
  if (table != layout_table(expected))
    throw InputError(path, name + "/layout", "the layout built from the stored config and schema",
                     "a different layout");
  auto params = read_array<float>(g, "params", path);
  if (params.size() != expected.param_count)
    throw InputError(path, name + "/params", std::to_string(expected.param_count) + " parameters",
                     std::to_string(params.size()));
  return params;
}


void write_adam(hid_t g, const std::string& prefix, const AdamState& a) {
  write_array(g, prefix + "_step", std::vector<int64_t>{a.step});
  write_array(g, prefix + "_m", a.m);
  write_array(g, prefix + "_v", a.v);
}

AdamState read_adam(hid_t g, const std::string& prefix, size_t values, const std::string& path) {
  AdamState a;
  const auto step = read_array<int64_t>(g, prefix + "_step", path);
  a.m = read_array<float>(g, prefix + "_m", path);
  a.v = read_array<float>(g, prefix + "_v", path);
  if (step.size() != 1 || a.m.size() != values || a.v.size() != values)
    throw InputError(path, "in_progress/" + prefix, "an optimizer state of " + std::to_string(values) + " values",
                     "other sizes");
  a.step = step[0];
  return a;
}

void write_idec_progress(hid_t g, const IdecProgress& c) {
  write_adam(g, "centroid_adam", c.centroid_adam);
  write_array(g, "frequency", c.frequency);
  write_array(g, "refreshes_rollbacks", std::vector<int32_t>{c.refreshes, c.rollbacks});
  write_array(g, "changed_lr_scale", std::vector<double>{c.changed, c.lr_scale});
  h5::write_string_attribute(g, "start_json", c.start_json);
  auto a = create_group(g, "accepted");
  write_array(a, "params", c.accepted.params);
  write_array(a, "centroids", c.accepted.centroids);
  write_adam(a, "adam", c.accepted.adam);
  write_adam(a, "centroid_adam", c.accepted.centroid_adam);
  write_array(a, "frequency", c.accepted.frequency);
}

IdecProgress read_idec_progress(hid_t g, const Model& m, const std::string& path) {
  IdecProgress c;
  const size_t K = size_t(m.clusters), centroid_values = K * size_t(m.cluster_dims());
  const size_t params = m.autoencoder.param_count;
  c.centroid_adam = read_adam(g, "centroid_adam", centroid_values, path);
  c.frequency = read_array<double>(g, "frequency", path);
  const auto counts = read_array<int32_t>(g, "refreshes_rollbacks", path);
  const auto numbers = read_array<double>(g, "changed_lr_scale", path);
  c.start_json = read_string(g, "start_json", path);
  if (!h5::has_link(g, "accepted")) throw InputError(path, "in_progress/accepted", "the accepted IDEC state", "missing");
  Group a(RESILINET_H5(H5Gopen2(g, "accepted", H5P_DEFAULT)));
  c.accepted.params = read_array<float>(a, "params", path);
  c.accepted.centroids = read_array<float>(a, "centroids", path);
  c.accepted.adam = read_adam(a, "adam", params, path);
  c.accepted.centroid_adam = read_adam(a, "centroid_adam", centroid_values, path);
  c.accepted.frequency = read_array<double>(a, "frequency", path);
  if (c.frequency.size() != K || c.accepted.frequency.size() != K || counts.size() != 2 || numbers.size() != 2 ||
      c.accepted.params.size() != params || c.accepted.centroids.size() != centroid_values)
    throw InputError(path, "in_progress", "the IDEC state of " + std::to_string(K) + " clusters", "other sizes");
  c.refreshes = counts[0];
  c.rollbacks = counts[1];
  c.changed = numbers[0];
  c.lr_scale = numbers[1];
  return c;
}

// What the sizes cannot tell: every value in its domain. A checkpoint a run wrote always passes
// (a diverging run stops before it writes); a damaged or hand-made one would otherwise become a
// NaN model, a crash or ratings of garbage.
void check_values(const Checkpoint& ck, const std::string& path) {
  const Model& m = ck.model;
  auto need = [&](bool ok, const std::string& where, const std::string& expected, const std::string& found) {
    if (!ok) throw InputError(path, where, expected, found);
  };
  auto first_bad = [](const auto& values, auto&& good) -> long long {
    for (size_t i = 0; i < values.size(); ++i)
      if (!good(double(values[i]))) return (long long)i;
    return -1;
  };
  auto finite = [&](const auto& values, const std::string& where) {
    const long long i = first_bad(values, [](double v) { return std::isfinite(v); });
    need(i < 0, where, "finite values", i < 0 ? "" : fmt::format("{} at index {}", double(values[size_t(i)]), i));
  };
  need(m.scaler.type == "robust" || m.scaler.type == "minmax" || m.scaler.type == "zscore", "scaler/type",
       "robust, minmax or zscore", "'" + m.scaler.type + "'");
  finite(m.scaler.median, "scaler/median");
  finite(m.scaler.offset, "scaler/offset");
  finite(m.scaler.min, "scaler/min");
  finite(m.scaler.max, "scaler/max");
  const long long bad_scale = first_bad(m.scaler.scale, [](double v) { return std::isfinite(v) && v > 0; });
  need(bad_scale < 0, "scaler/scale", "finite values > 0",
       bad_scale < 0 ? "" : fmt::format("{} at index {}", m.scaler.scale[size_t(bad_scale)], bad_scale));
  need(m.scaler.clip >= 0, "scaler/clip", "a value >= 0 (inf: no clipping)", fmt::format("{}", m.scaler.clip));
  finite(m.autoencoder_params, "autoencoder/params");
  finite(m.classifier_params, "classifier/params");
  finite(m.centroids, "clusters/centroids");
  need(std::isfinite(m.cluster_scale) && m.cluster_scale > 0, "clusters/scale", "a finite value > 0",
       fmt::format("{}", m.cluster_scale));
  if (ck.stage == "clusters" || ck.stage == "done") {  // the levels: each of 1..K once
    std::vector<int> seen(size_t(m.clusters) + 1, 0);
    for (int32_t l : m.cluster_level) {
      need(l >= 1 && l <= m.clusters && !seen[size_t(l)]++, "clusters/level",
           fmt::format("each level 1..{} once", m.clusters), fmt::format("{}", l));
    }
  }
  if (!ck.in_progress) return;
  // The state a stage continues from (trainer/stages): the epoch and step the loader and the
  // step counts start at, Adam's moments, and IDEC's target frequencies and step size.
  const StageProgress& p = *ck.in_progress;
  const TrainConfig& cfg = ck.config;
  // A stage checkpoints before its last epoch only; min_steps stretches it to at most min_steps
  // epochs (one batch each). The exact count needs the data: checked again on resume.
  auto stretched = [](int epochs, int min_steps) { return epochs > 0 ? std::max(epochs, min_steps) : 0; };
  const int epochs = p.stage == "idec"       ? cfg.idec.max_epochs
                     : p.stage == "pretrain" ? stretched(cfg.pretrain.epochs, cfg.pretrain.min_steps)
                                             : stretched(cfg.classifier.epochs, cfg.classifier.min_steps);
  need(p.epoch >= 0 && p.epoch < epochs, "in_progress/epoch",
       fmt::format("an epoch in [0, {}) (the epochs of stage {} in the stored config)", epochs, p.stage),
       std::to_string(p.epoch));
  // Every epoch has a batch or more; Adam counts the steps in 64 bits.
  need(p.step >= uint64_t(p.epoch) && p.step <= uint64_t(INT64_MAX) && (p.epoch > 0 || p.step == 0),
       "in_progress/step", "a step count in [in_progress/epoch, 2^63 - 1] (0 at epoch 0)", std::to_string(p.step));
  // Adam takes fewer steps than the stage after an IDEC rollback or a batch with no training rows;
  // its second moments are means of squares.
  auto adam = [&](const AdamState& a, const std::string& prefix) {
    need(a.step >= 0 && uint64_t(a.step) <= p.step, prefix + "_step", "a step count in [0, in_progress/step]",
         std::to_string(a.step));
    finite(a.m, prefix + "_m");
    const long long bad_v = first_bad(a.v, [](double v) { return std::isfinite(v) && v >= 0; });
    need(bad_v < 0, prefix + "_v", "finite values >= 0",
         bad_v < 0 ? "" : fmt::format("{} at index {}", a.v[size_t(bad_v)], bad_v));
  };
  adam(p.adam, "in_progress/adam");
  if (!p.idec) return;
  const IdecProgress& c = *p.idec;
  // The target distribution divides by each cluster's frequency (a sum of soft assignments).
  auto frequencies = [&](const std::vector<double>& f, const std::string& where) {
    const long long i = first_bad(f, [](double v) { return std::isfinite(v) && v > 0; });
    need(i < 0, where, "finite values > 0", i < 0 ? "" : fmt::format("{} at index {}", f[size_t(i)], i));
  };
  adam(c.centroid_adam, "in_progress/centroid_adam");
  frequencies(c.frequency, "in_progress/frequency");
  finite(c.accepted.params, "in_progress/accepted/params");
  finite(c.accepted.centroids, "in_progress/accepted/centroids");
  adam(c.accepted.adam, "in_progress/accepted/adam");
  adam(c.accepted.centroid_adam, "in_progress/accepted/centroid_adam");
  frequencies(c.accepted.frequency, "in_progress/accepted/frequency");
  // Each rollback is a refresh, and IDEC stops (without a checkpoint) once they pass the limit.
  need(c.rollbacks >= 0 && c.rollbacks <= cfg.idec.max_rollbacks && c.refreshes >= c.rollbacks,
       "in_progress/refreshes_rollbacks",
       fmt::format("rollbacks in [0, {}] (idec.max_rollbacks) and at least as many refreshes", cfg.idec.max_rollbacks),
       fmt::format("{} refreshes, {} rollbacks", c.refreshes, c.rollbacks));
  need(std::isfinite(c.changed) && c.changed >= 0 && c.changed <= 1, "in_progress/changed_lr_scale",
       "a share of changed labels in [0, 1]", fmt::format("{}", c.changed));
  // The step size factor starts at 1 and halves at each rollback.
  need(std::isfinite(c.lr_scale) && c.lr_scale > 0 && c.lr_scale <= 1, "in_progress/changed_lr_scale",
       "a step size factor in (0, 1]", fmt::format("{}", c.lr_scale));
  // The stage metrics are built on it.
  const nlohmann::json start = nlohmann::json::parse(c.start_json, nullptr, false);
  need(!start.is_discarded() && start.is_object(), "in_progress/start_json",
       "a JSON object (the metrics of the initial clustering)", "unparsable text or another JSON type");
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ck) {
  const Model& m = ck.model;
  {
    {
      AtomicH5File f(path);
      h5::write_string_attribute(f, "format", kCheckpointFormat);
      h5::write_int32_attribute(f, "format_version", kCheckpointFormatVersion);
      h5::write_string_attribute(f, "config_yaml", to_yaml(ck.config));
      h5::write_string_attribute(f, "stage", ck.stage);
      h5::write_string_attribute(f, "stage_metrics", ck.stage_metrics.dump());
      std::vector<std::string> names, systems, components, units;
      std::vector<int8_t> directions;
      for (const auto& s : m.schema.features) {
        names.push_back(s.name);
        systems.push_back(s.system);
        components.push_back(s.component);
        units.push_back(s.unit);
        directions.push_back(int8_t(s.direction));
      }
      h5::write_string_array_attribute(f, "feature_names", names);
      h5::write_string_array_attribute(f, "feature_system", systems);
      h5::write_string_array_attribute(f, "feature_component", components);
      h5::write_string_array_attribute(f, "feature_unit", units);
      h5::write_int8_array_attribute(f, "feature_direction", directions);
      {
        auto g = create_group(f, "scaler");
        h5::write_string_attribute(g, "type", m.scaler.type);
        write_array(g, "median", m.scaler.median);
        write_array(g, "offset", m.scaler.offset);
        write_array(g, "scale", m.scaler.scale);
        write_array(g, "min", m.scaler.min);
        write_array(g, "max", m.scaler.max);
        write_array(g, "missing", m.scaler.missing);
        write_array(g, "clip", std::vector<double>{m.scaler.clip});
      }
      if (ck.in_progress) {
        const StageProgress& p = *ck.in_progress;
        auto g = create_group(f, "in_progress");
        h5::write_string_attribute(g, "stage", p.stage);
        h5::write_int32_attribute(g, "epoch", p.epoch);
        write_array(g, "step", std::vector<uint64_t>{p.step});
        write_array(g, "adam_step", std::vector<int64_t>{p.adam.step});
        write_array(g, "adam_m", p.adam.m);
        write_array(g, "adam_v", p.adam.v);
        if (p.idec) write_idec_progress(g, *p.idec);
      }
      write_network(f, "autoencoder", m.autoencoder, m.autoencoder_params);
      h5::write_int32_attribute(f, "latent_layer", m.latent_layer);
      write_network(f, "classifier", m.classifier, m.classifier_params);
      {
        auto g = create_group(f, "clusters");
        write_array(g, "centroids", m.centroids, hsize_t(m.cluster_dims()));
        write_array(g, "level", m.cluster_level);
        write_array(g, "scale", std::vector<double>{m.cluster_scale});
      }
      f.commit();
    }
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(path, "", "an existing checkpoint file", "no such file");
  // Read once in a child process first (datasets/untrusted_file.hpp); the child reads it here.
  static thread_local bool in_probe = false;
  if (!in_probe) probe_untrusted_file(path, [&] {
    in_probe = true;
    read_checkpoint(path);
  });
  h5::File f;
  try {
    f = h5::open_file_read_only(path);
  } catch (const h5::Error& e) {
    throw InputError(path, "", "a readable HDF5 checkpoint", e.detail());
  }
  try {
    if (!h5::has_attribute(f, "format") || read_string(f, "format", path) != kCheckpointFormat)
      throw InputError(path, "format", std::string("'") + kCheckpointFormat + "'", "another file type");
    auto version = h5::read_integers(h5::open_attribute(f, "format_version"));
    if (version.size() != 1 || version[0] != kCheckpointFormatVersion)
      throw InputError(path, "format_version", std::to_string(kCheckpointFormatVersion),
                       version.empty() ? "none" : std::to_string(version[0]));
    Checkpoint ck;
    ck.config = parse_train_config(read_string(f, "config_yaml", path), path + ":config_yaml");
    ck.stage = read_string(f, "stage", path);
    if (h5::has_attribute(f, "stage_metrics")) {
      ck.stage_metrics = nlohmann::json::parse(read_string(f, "stage_metrics", path), nullptr, false);
      if (ck.stage_metrics.is_discarded() || !ck.stage_metrics.is_object())
        throw InputError(path, "stage_metrics", "a JSON object", "unparsable text");
    }
    Schema schema;
    auto names = read_string_array(f, "feature_names", path);
    auto systems = read_string_array(f, "feature_system", path);
    auto components = read_string_array(f, "feature_component", path);
    auto units = read_string_array(f, "feature_unit", path);
    auto directions = h5::read_integers(h5::open_attribute(f, "feature_direction"));
    const size_t F = names.size();
    if (systems.size() != F || components.size() != F || units.size() != F || directions.size() != F)
      throw InputError(path, "feature_*", "schema attributes of equal length", "different lengths");
    for (size_t i = 0; i < F; ++i)
      schema.features.push_back({names[i], systems[i], components[i], int(directions[i]), units[i]});

    Model m = assemble_model(ck.config, schema);
    Group s(RESILINET_H5(H5Gopen2(f, "scaler", H5P_DEFAULT)));
    m.scaler.type = read_string(s, "type", path);
    m.scaler.median = read_array<double>(s, "median", path);
    m.scaler.offset = read_array<double>(s, "offset", path);
    m.scaler.scale = read_array<double>(s, "scale", path);
    m.scaler.min = read_array<double>(s, "min", path);
    m.scaler.max = read_array<double>(s, "max", path);
    m.scaler.missing = read_array<uint64_t>(s, "missing", path);
    const auto clip = read_array<double>(s, "clip", path);
    if (m.scaler.offset.size() != F || m.scaler.scale.size() != F || m.scaler.median.size() != F ||
        m.scaler.min.size() != F || m.scaler.max.size() != F || m.scaler.missing.size() != F || clip.size() != 1)
      throw InputError(path, "scaler", std::to_string(F) + " values per array and one clip value", "another count");
    m.scaler.clip = clip[0];
    m.autoencoder_params = read_network(f, "autoencoder", m.autoencoder, path);
    m.classifier_params = read_network(f, "classifier", m.classifier, path);
    Group c(RESILINET_H5(H5Gopen2(f, "clusters", H5P_DEFAULT)));
    m.centroids = read_array<float>(c, "centroids", path);
    m.cluster_level = read_array<int32_t>(c, "level", path);
    const auto cluster_scale = read_array<double>(c, "scale", path);
    if (m.centroids.size() != size_t(m.clusters) * m.cluster_dims() || m.cluster_level.size() != size_t(m.clusters) ||
        cluster_scale.size() != 1)
      throw InputError(path, "clusters", std::to_string(m.clusters) + " centroids and levels and one scale",
                       "another count");
    m.cluster_scale = cluster_scale[0];
    if (h5::has_link(f, "in_progress")) {
      Group g(RESILINET_H5(H5Gopen2(f, "in_progress", H5P_DEFAULT)));
      StageProgress p;
      p.stage = read_string(g, "stage", path);
      auto epoch = h5::read_integers(h5::open_attribute(g, "epoch"));
      auto step = read_array<uint64_t>(g, "step", path);
      auto adam_step = read_array<int64_t>(g, "adam_step", path);
      p.adam.m = read_array<float>(g, "adam_m", path);
      p.adam.v = read_array<float>(g, "adam_v", path);
      const size_t params = p.stage == "classifier" ? m.classifier.param_count
                            : p.stage == "pretrain" || p.stage == "idec" ? m.autoencoder.param_count : 0;
      if (params == 0) throw InputError(path, "in_progress/stage", "pretrain, idec or classifier", p.stage);
      if (p.stage == "idec") p.idec = read_idec_progress(g, m, path);
      if (epoch.size() != 1 || step.size() != 1 || adam_step.size() != 1 || p.adam.m.size() != params ||
          p.adam.v.size() != params)
        throw InputError(path, "in_progress", "epoch, step and Adam moments of " + std::to_string(params) + " values",
                         "other sizes");
      if (epoch[0] != int64_t(int(epoch[0])))  // the stages count epochs in an int
        throw InputError(path, "in_progress/epoch", "an epoch count that fits in 32 bits", std::to_string(epoch[0]));
      p.epoch = int(epoch[0]);
      p.step = step[0];
      p.adam.step = adam_step[0];
      ck.in_progress = std::move(p);
    }
    ck.model = std::move(m);
    check_values(ck, path);
    return ck;
  } catch (const h5::Error& e) {
    throw InputError(path, "", "a readable resilinet checkpoint", e.detail());
  }
}

void require_finished(const Checkpoint& checkpoint, const std::string& path) {
  if (checkpoint.stage != "done" || checkpoint.in_progress)
    throw InputError(path, "stage", "'done' (a finished training run; resume it with `resilinet train --resume`)",
                     checkpoint.in_progress ? "'" + checkpoint.in_progress->stage + "' under way" : "'" + checkpoint.stage + "'");
}

void require_same_schema(const Schema& model_schema, const std::string& checkpoint_path,
                         const Schema& data_schema, const std::string& data_path) {
  if (model_schema == data_schema) return;
  const std::string as_in = " as in checkpoint " + checkpoint_path;
  if (model_schema.size() != data_schema.size())
    throw InputError(data_path, "feature_names", std::to_string(model_schema.size()) + " features" + as_in,
                     std::to_string(data_schema.size()));
  const auto quoted = [](const std::string& text) { return "'" + text + "'"; };
  // The first attribute that differs, under its name in shards and checkpoints (docs/FORMAT.md).
  for (size_t i = 0; i < model_schema.size(); ++i) {
    const FeatureSpec& a = model_schema.features[i];
    const FeatureSpec& b = data_schema.features[i];
    if (a.name != b.name)
      throw InputError(data_path, fmt::format("feature_names[{}]", i), quoted(a.name) + as_in, quoted(b.name));
    const std::string at = fmt::format("[{}] ({})", i, a.name);
    if (a.system != b.system)
      throw InputError(data_path, "feature_system" + at, quoted(a.system) + as_in, quoted(b.system));
    if (a.component != b.component)
      throw InputError(data_path, "feature_component" + at, quoted(a.component) + as_in, quoted(b.component));
    if (a.direction != b.direction)
      throw InputError(data_path, "feature_direction" + at, std::to_string(a.direction) + as_in,
                       std::to_string(b.direction));
    if (a.unit != b.unit)
      throw InputError(data_path, "feature_unit" + at, quoted(a.unit) + as_in, quoted(b.unit));
  }
}

}  // namespace resilinet
