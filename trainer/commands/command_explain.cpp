// `resilinet explain --checkpoint C --data GLOB --out DIR`: layer-wise relevance propagation of the
// classifier head (seeded with the logit of the rated level, or of a chosen level), gradient x input,
// and the perturbation sensitivity. Writes relevance per cell x feature (relevance.h5, relevance.csv)
// and a JSON summary per level, system and component (explain_summary.json).
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "datasets/atomic_h5_file.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "kernels/backend.hpp"
#include "kernels/lrp.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/explain/explain_config.hpp"
#include "trainer/commands/rank_parts.hpp"
#include "trainer/explain/explain_summary.hpp"
#include "trainer/explain/head_on_backend.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

namespace {

struct ExplainArgs {
  std::string checkpoint, data, out = "explain", config, device = "cpu";
  std::optional<int> level;
  std::optional<double> delta;
  std::vector<std::string> formats = {"hdf5", "csv"};
  bool no_sensitivity = false, quiet = false, summary_only = false;
};

// Relevance and gradient x input per cell, streamed to HDF5 and CSV (either may be left out).
class RelevanceOutput {
 public:
  RelevanceOutput(const std::string& dir, const Schema& schema, const std::vector<std::string>& regions,
                  const std::string& composite, bool hdf5, bool csv)
      : regions_(regions), features_(schema.size()) {
    if (hdf5) {
      h5_.emplace(dir + "/relevance.h5");
      h5::write_string_attribute(*h5_, "format", "resilinet-relevance");
      h5::write_int32_attribute(*h5_, "format_version", 1);
      h5::write_string_attribute(*h5_, "composite", composite);
      h5::write_string_array_attribute(*h5_, "feature_names", schema.names());
      h5::write_string_array_attribute(*h5_, "region_names", regions);
      const hsize_t chunk = 65536, F = features_;
      cell_id_ = h5::create_row_dataset(*h5_, "cell_id", H5T_STD_I64LE, 0, chunk, 0);
      region_ = h5::create_row_dataset(*h5_, "region", H5T_STD_U32LE, 0, chunk, 0);
      level_ = h5::create_row_dataset(*h5_, "level", H5T_STD_I32LE, 0, chunk, 0);
      seed_level_ = h5::create_row_dataset(*h5_, "seed_level", H5T_STD_I32LE, 0, chunk, 0);
      relevance_ = h5::create_row_dataset(*h5_, "relevance", H5T_IEEE_F32LE, F, chunk, 0);
      gxi_ = h5::create_row_dataset(*h5_, "gradient_x_input", H5T_IEEE_F32LE, F, chunk, 0);
    }
    if (csv) {
      csv_.emplace(dir + "/relevance.csv");
      std::string header = "cell_id,region,level,seed_level";
      for (const auto& n : schema.names()) header += ",relevance_" + n;
      csv_->write(header + "\n");
    }
  }

  void append(const Batch& b, const int32_t* level, const int32_t* seed_level, const float* relevance,
              const float* gxi) {
    const hsize_t first = rows_, n = b.rows;
    rows_ += b.rows;
    if (h5_) {
      h5::write_rows(cell_id_, H5T_NATIVE_INT64, first, n, b.cell_id);
      h5::write_rows(region_, H5T_NATIVE_UINT32, first, n, b.region);
      h5::write_rows(level_, H5T_NATIVE_INT32, first, n, level);
      h5::write_rows(seed_level_, H5T_NATIVE_INT32, first, n, seed_level);
      h5::write_rows(relevance_, H5T_NATIVE_FLOAT, first, n, relevance);
      h5::write_rows(gxi_, H5T_NATIVE_FLOAT, first, n, gxi);
    }
    if (!csv_) return;
    std::string buf;
    for (size_t i = 0; i < b.rows; ++i) {
      const std::string& region = regions_[b.region[i]];
      fmt::format_to(std::back_inserter(buf), "{},{},{},{}", b.cell_id[i],
                     region.find_first_of(",\"\n") == std::string::npos ? region : nlohmann::json(region).dump(),
                     level[i], seed_level[i]);
      for (size_t f = 0; f < features_; ++f) fmt::format_to(std::back_inserter(buf), ",{:.6g}", relevance[i * features_ + f]);
      buf += '\n';
    }
    csv_->write(buf);
  }

  void commit() {
    cell_id_.reset(); region_.reset(); level_.reset(); seed_level_.reset(); relevance_.reset(); gxi_.reset();
    if (h5_) h5_->commit();
    if (csv_) csv_->commit();
  }

 private:
  std::vector<std::string> regions_;
  size_t features_;
  size_t rows_ = 0;
  std::optional<AtomicH5File> h5_;
  std::optional<AtomicTextFile> csv_;
  h5::Dataset cell_id_, region_, level_, seed_level_, relevance_, gxi_;
};

std::string describe(const ExplainConfig& c, size_t layers) {
  std::string s;
  for (size_t l = 0; l < layers; ++l) {
    const auto& r = l == 0 ? c.input : (l + 1 == layers ? c.top : c.middle);
    s += fmt::format("{}layer {}: {}", l ? "; " : "", l, r.rule);
    if (r.rule == "epsilon") s += fmt::format(" (epsilon {})", r.epsilon);
    if (r.rule == "gamma") s += fmt::format(" (gamma {})", r.gamma);
    if (r.rule == "alpha_beta") s += fmt::format(" (alpha {}, beta {})", r.alpha, r.beta);
  }
  return s;
}

void run_explain(const ExplainArgs& args) {
  ExplainConfig config = load_explain_config(args.config);
  if (args.level) config.seed = std::to_string(*args.level);
  if (args.delta) {  // the range of sensitivity.delta in the explain config
    if (!(*args.delta > 0 && *args.delta <= 1e3))
      throw InputError("resilinet explain", "--delta", "a number in (0, 1000]", fmt::format("{}", *args.delta));
    config.delta = *args.delta;
  }
  if (args.no_sensitivity) config.sensitivity = false;

  Checkpoint ck = read_checkpoint(args.checkpoint);
  require_finished(ck, args.checkpoint);
  const Model& model = ck.model;
  if (args.level && (*args.level < 1 || *args.level > model.clusters))
    throw InputError("resilinet explain", "--level", fmt::format("a level from 1 to {}", model.clusters),
                     std::to_string(*args.level));
  ShardSet data = ShardSet::open(args.data);
  require_same_schema(model.schema, args.checkpoint, data.schema(), args.data);
  const kernels::LrpComposite composite = build_composite(config, model);
  const int fixed_class = fixed_seed_class(config, model.clusters);
  const std::string composite_text = describe(config, model.classifier.layers.size());
  const size_t F = model.schema.size();

  // The cells are shared between the ranks of an MPI job; each writes relevance.h5 of its own part
  // (rank_parts.hpp), and rank 0 the summary of all of them.
  const std::unique_ptr<Communicator> comm = make_communicator("auto");
  const int rank = comm->rank(), world = comm->world();
  const std::string part_out = rank_part_folder(args.out, *comm);
  make_output_dir(part_out, "--out");
  Progress progress("", args.quiet || rank != 0);
  progress.begin(world > 1 ? "explain (rank 0's part)" : "explain", data.total_rows() / size_t(world));
  const bool hdf5 = !args.summary_only && std::count(args.formats.begin(), args.formats.end(), "hdf5");
  const bool csv = !args.summary_only && std::count(args.formats.begin(), args.formats.end(), "csv");
  RelevanceOutput output(part_out, model.schema, data.region_names(), composite_text, hdf5, csv);
  RelevanceSummary relevance_summary(model.schema, model.clusters);
  RelevanceSummary gxi_summary(model.schema, model.clusters);
  PerturbationSensitivity sensitivity(model.schema, config.delta, model.clusters);
  const auto backend = make_device_backend(args.device, "resilinet explain", "--device");
  HeadOnBackend head(model, *backend, composite);
  const RateFunction rate = [&](const float* x, size_t rows, int32_t* level) { head.levels(x, rows, level); };

  std::vector<int32_t> level, seed_class, seed_level;
  std::vector<float> relevance, gxi;
  uint64_t done = 0;
  int64_t not_rated = 0;
  for_each_scaled_batch(data, ck.config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    level.resize(b.rows);
    rate(x, b.rows, level.data());
    seed_class.resize(b.rows);
    seed_level.resize(b.rows);
    for (size_t i = 0; i < b.rows; ++i) {
      seed_class[i] = fixed_class >= 0 ? fixed_class : std::max(level[i] - 1, 0);
      seed_level[i] = seed_class[i] + 1;
    }
    relevance.resize(b.rows * F);
    gxi.resize(b.rows * F);
    head.relevance(x, b.rows, seed_class.data(), relevance.data(), gxi.data());
    // A cell without a finite rating or explanation is explained as not rated: level 0, zeros.
    for (size_t i = 0; i < b.rows; ++i) {
      float* r = relevance.data() + i * F;
      float* g = gxi.data() + i * F;
      const auto finite = [](float v) { return std::isfinite(v); };
      if (level[i] != kNotRated && std::all_of(r, r + F, finite) && std::all_of(g, g + F, finite)) continue;
      level[i] = seed_level[i] = kNotRated;
      std::fill_n(r, F, 0.0f);
      std::fill_n(g, F, 0.0f);
      ++not_rated;
    }
    output.append(b, level.data(), seed_level.data(), relevance.data(), gxi.data());
    relevance_summary.add(relevance.data(), level.data(), b.rows);
    gxi_summary.add(gxi.data(), level.data(), b.rows);
    if (config.sensitivity) sensitivity.add(rate, x, level.data(), b.rows);
    done += b.rows;
    progress.update(done, "", done);
  }, rank, world);
  output.commit();
  if (world > 1) {  // the summaries of all parts: sums in rank order, counts exact
    auto sum_doubles = [&](RelevanceSummary& s) {
      std::vector<double> v = s.sums();
      comm->allreduce_sum(v.data(), v.size());
      s.set_sums(v);
    };
    sum_doubles(relevance_summary);
    sum_doubles(gxi_summary);
    std::vector<int64_t> counts = sensitivity.counts();
    comm->allreduce_sum(counts.data(), counts.size());
    sensitivity.set_counts(counts);
  }
  comm->allreduce_sum(&not_rated, 1);
  done = uint64_t(write_parts_manifest(args.out, *comm, int64_t(done),
                                       {{"checkpoint", args.checkpoint}, {"data", args.data}}));

  nlohmann::json summary;
  summary["checkpoint"] = args.checkpoint;
  summary["data"] = args.data;
  summary["cells"] = done;
  summary["not_rated_cells"] = not_rated;
  summary["composite"] = composite_text;
  summary["seed"] = config.seed == "rated" ? "logit of the rated level" : "logit of level " + config.seed;
  summary["config"] = to_yaml(config);
  summary["relevance"] = relevance_summary.to_json();
  summary["gradient_x_input"] = gxi_summary.to_json();
  if (config.sensitivity) summary["perturbation"] = sensitivity.to_json();
  if (rank == 0) write_text_atomically(args.out + "/explain_summary.json", summary.dump(2) + "\n");
  progress.end(fmt::format("{} cells explained into {} ({})", done, args.out, composite_text));
  if (not_rated > 0 && rank == 0)  // even when quiet: these cells have no explanation
    std::fprintf(stderr, "resilinet explain: warning: %lld cells could not be rated or explained (values "
                 "too extreme for the model); they are written with level 0 and zero relevance\n",
                 static_cast<long long>(not_rated));
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto args = std::make_shared<ExplainArgs>();
  auto* sub = app.add_subcommand("explain", "Explain ratings: LRP relevance, gradient x input, perturbation sensitivity");
  sub->add_option("--checkpoint", args->checkpoint, "checkpoint.h5 from `resilinet train`")->required();
  sub->add_option("--data", args->data, "Glob of shards to explain")->required();
  sub->add_option("--out", args->out, "Output folder")->capture_default_str();
  sub->add_option("--config,-c", args->config, "Explain YAML (lrp composite, seed, sensitivity; configs/README.md)");
  sub->add_option("--level", args->level, "Seed every cell with this level's logit instead of its rated level");
  sub->add_option("--delta", args->delta, "Perturbation size in scaled units (default 0.1)");
  sub->add_option("--device", args->device, "Where to explain: cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))->capture_default_str();
  sub->add_flag("--no-sensitivity", args->no_sensitivity, "Skip the perturbation analysis");
  auto* formats = sub->add_option("--format", args->formats, "Per-cell outputs: hdf5, csv")
                      ->check(CLI::IsMember({"hdf5", "csv"}))
                      ->capture_default_str();
  sub->add_flag("--summary-only", args->summary_only,
                "Write explain_summary.json only, no per-cell relevance (for very many cells)")
      ->excludes(formats);
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] { run_explain(*args); });
}

}  // namespace resilinet
