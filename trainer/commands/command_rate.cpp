// `resilinet rate --checkpoint C --data GLOB --out DIR`: rates every cell with the frozen model
// (classifier head level with its probability per level, nearest-cluster level, hazard risk class
// and priority flag, q and z) and writes HDF5, CSV and GeoJSON, and the roll-ups per region and per
// grouping unit (rollup.json, rollup.csv). Under an MPI launcher the ranks share the cells (the
// loader's slabs r, r + world, ...) and each writes its own part, DIR/part-R-of-W/; the roll-ups are
// summed over the ranks, and rank 0 writes them and DIR/parts.json to DIR (docs/FORMAT.md).
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "datasets/shard_set.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/commands/rank_parts.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/outputs/ratings_writer.hpp"
#include "trainer/outputs/rollup.hpp"
#include "trainer/report/hazard_risk.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

namespace {
struct RateArgs {
  std::string checkpoint, data, out = "ratings", device = "cpu";
  std::vector<std::string> formats = {"hdf5", "csv", "geojson"};
  bool quiet = false;
  bool no_latent = false;
};
}  // namespace

void add_rate_command(CLI::App& app) {
  auto args = std::make_shared<RateArgs>();
  auto* sub = app.add_subcommand("rate", "Rate cells with a trained checkpoint");
  sub->add_option("--checkpoint", args->checkpoint, "checkpoint.h5 from `resilinet train`")->required();
  sub->add_option("--data", args->data, "Glob of shards to rate")->required();
  sub->add_option("--out", args->out, "Output folder")->capture_default_str();
  sub->add_option("--format", args->formats, "Outputs: hdf5, csv, geojson")
      ->check(CLI::IsMember({"hdf5", "csv", "geojson"}))->capture_default_str();
  sub->add_option("--device", args->device, "Where to rate: cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))->capture_default_str();
  sub->add_flag("--no-latent", args->no_latent,
                "Leave out q and z (the soft assignment and the latent code): at national scale they are most "
                "of the file, and in the completed clustering space the encoder then runs only for cells with a "
                "missing value");
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] {
    const auto backend = make_device_backend(args->device, "resilinet rate", "--device");
    Checkpoint ck = read_checkpoint(args->checkpoint);
    require_finished(ck, args->checkpoint);
    ShardSet data = ShardSet::open(args->data);
    require_same_schema(ck.model.schema, args->checkpoint, data.schema(), args->data);
    const RatingsOutputs outputs = cell_table_files(args->formats);
    // The cells are shared between the ranks of an MPI job: host sums only, so never NCCL.
    const std::unique_ptr<Communicator> comm = make_communicator("auto");
    const int rank = comm->rank(), world = comm->world();
    // Risk classes are quantiles over all cells: every rank reads the whole hazard column.
    const std::vector<double> cuts = hazard_cuts(data, ck.config.slab_rows);
    Progress progress("", args->quiet || rank != 0);
    progress.begin(world > 1 ? "rate (rank 0's part)" : "rate", data.total_rows() / size_t(world));
    std::vector<ShardGrouping> groups;
    for (size_t g = 0; g < data.group_names().size(); ++g) groups.push_back({data.group_names()[g], data.group_labels()[g]});
    RatingsWriter writer(rank_part_folder(args->out, *comm), data.region_names(), ck.model, data.has_hazard(),
                         cuts, outputs, groups, !args->no_latent);
    Rollup rollup(data, ck.model.clusters);
    const ModelOnBackend model(ck.model, *backend);
    RatingBuffers rated;
    std::vector<int64_t> counts(ck.model.clusters + 1, 0);  // [0]: cells not rated
    for_each_scaled_batch(
        data, ck.config.slab_rows, &ck.model.scaler, 8192,
        [&](const Batch& b, const float* x) {
          rate_scaled(model, b.x, x, b.rows, rated, true, !args->no_latent);
          mark_not_rated(rated, b.rows);
          writer.append(b, rated);
          rollup.add(b, rated.level.data());
          for (size_t i = 0; i < b.rows; ++i) ++counts[rated.level[i]];
          progress.update(writer.rows(), "", writer.rows());
        },
        rank, world);
    writer.commit();
    comm->allreduce_sum(counts.data(), counts.size());
    // Summed in rank order (the Communicator's rule), so a given number of ranks gives the same bytes.
    comm->allreduce_sum(rollup.counts().data(), rollup.counts().size());
    if (!rollup.population().empty()) comm->allreduce_sum(rollup.population().data(), rollup.population().size());
    if (rank == 0) write_rollup_files(args->out, rollup);  // before parts.json, which says all is written
    const int64_t rows = write_parts_manifest(args->out, *comm, int64_t(writer.rows()),
                                              {{"checkpoint", args->checkpoint}, {"data", args->data},
                                               {"level_counts", std::vector<int64_t>(counts.begin() + 1, counts.end())},
                                               {"not_rated", counts[0]}});
    std::string summary = fmt::format("{} cells rated into {}{}; cells per level:", rows, args->out,
                                      world > 1 ? fmt::format(" ({} parts, parts.json)", world) : "");
    for (size_t k = 1; k < counts.size(); ++k) summary += fmt::format(" {}={}", k, counts[k]);
    summary += fmt::format("; roll-ups per region{} in rollup.csv", data.group_names().empty() ? "" : fmt::format(", {}", fmt::join(data.group_names(), ", ")));
    progress.end(summary);
    if (counts[0] > 0 && rank == 0)  // even when quiet: these cells have no rating
      std::fprintf(stderr, "resilinet rate: warning: %lld cells could not be rated (values too extreme "
                   "for the model); they are written with level 0\n", static_cast<long long>(counts[0]));
  });
}

}  // namespace resilinet
