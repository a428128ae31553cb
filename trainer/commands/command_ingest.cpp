// `resilinet ingest`: converts a CSV file to shards following a schema YAML (datasets/csv_ingest.hpp)
// and prints the rows, regions, groupings and per-feature missing counts. Bad input is InputError
// (exit 2) and leaves no shard behind. The CSV reading and checks live in datasets/csv_ingest.cpp.
#include <cstdio>

#include <fmt/format.h>

#include "datasets/csv_ingest.hpp"
#include "datasets/schema_yaml.hpp"
#include "trainer/commands/commands.hpp"

namespace resilinet {

void add_ingest_command(CLI::App& app) {
  auto* sub = app.add_subcommand("ingest", "Convert a CSV file (one row per spatial unit) to HDF5 shards");
  struct Args {
    std::string csv, schema, out;
    size_t shard_rows = 1'000'000;
    int deflate = 0;
    bool overwrite = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("--csv", args->csv, "CSV file with a header line")->required();
  sub->add_option("--schema", args->schema, "Schema YAML: features and column mapping (configs/schema/README.md)")
      ->required();
  sub->add_option("--out", args->out, "Output folder for part-00000.h5, ...")->required();
  sub->add_option("--shard-rows", args->shard_rows, "Rows per shard file (default 1000000)");
  sub->add_option("--deflate", args->deflate, "Deflate level 0..9 (default 0: uncompressed)");
  sub->add_flag("--overwrite", args->overwrite, "Replace existing part-*.h5 files in the output folder");
  sub->add_flag("--quiet", args->quiet, "No summary");

  sub->callback([args] {
    SchemaFile schema = load_schema_yaml(args->schema);
    IngestOptions options;
    options.csv_path = args->csv;
    options.out_dir = args->out;
    options.shard_rows = args->shard_rows;
    options.deflate_level = args->deflate;
    options.overwrite = args->overwrite;
    IngestSummary s = ingest_csv(schema, options);
    if (args->quiet) return;
    std::printf("ingest: %zu rows from %s in %zu region(s) -> %zu shard(s) in %s\n", s.rows,
                args->csv.c_str(), s.region_names.size(), s.shard_paths.size(), args->out.c_str());
    for (const ShardGrouping& g : s.groups) std::printf("grouping %s: %zu units\n", g.name.c_str(), g.labels.size());
    if (s.has_population) std::printf("population: yes\n");
    std::printf("missing values per feature:\n");
    for (size_t f = 0; f < s.schema.size(); ++f)
      std::printf("  %-24s %zu (%.2f%%)\n", s.schema.features[f].name.c_str(), s.missing[f],
                  100.0 * double(s.missing[f]) / double(s.rows));
  });
}

}  // namespace resilinet
