// libFuzzer harness: CSV ingest (ingest_csv, datasets/csv_ingest.hpp) with a fixed small schema that
// uses every kind of column: a region column, hazard, external rating, a per-capita and a log1p
// feature, extra NA texts. The fuzzed bytes are the CSV file (written to this process's scratch
// folder); shards go to a folder beside it, a few rows each so that several are written. Bad CSV
// must fail as InputError only; an accepted one must give shards whose row count adds up.
#include <cstdint>
#include <string>

#include "datasets/csv_ingest.hpp"
#include "datasets/schema_yaml.hpp"
#include "fuzz_support.hpp"

namespace {

const char* kSchema = R"(name: fuzz
features:
  - {name: poverty, column: pov, system: society, component: robustness, direction: -1, unit: percent}
  - {name: hospitals, column: hosp, system: facility, component: redundancy, direction: +1,
     transform: per_capita, per: pop, scale: 100000}
  - {name: roads, system: infrastructure, component: resourcefulness, direction: 1, transform: log1p}
columns: {id: id, lon: lon, lat: lat, region: state, hazard: eal, external_rating: rating}
na_values: ["-999"]
)";

const resilinet::SchemaFile& schema() {
  static const resilinet::SchemaFile s = resilinet::parse_schema_yaml(kSchema, "fuzz_schema.yaml");
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resilinet::IngestOptions options;
  options.csv_path = resilinet::fuzz::write_scratch_file("fuzz.csv", data, size);
  options.out_dir = (resilinet::fuzz::scratch_dir() / "shards").string();
  options.shard_rows = 3;
  options.overwrite = true;
  resilinet::IngestSummary summary;
  if (!resilinet::fuzz::expect_input_error_only(
          [&] { summary = resilinet::ingest_csv(schema(), options); }))
    return 0;
  if (summary.rows == 0 || summary.shard_paths.size() != (summary.rows + 2) / 3 ||
      summary.missing.size() != 3 || summary.region_names.empty())
    resilinet::fuzz::defect("an accepted CSV gave " + std::to_string(summary.rows) + " rows in " +
                            std::to_string(summary.shard_paths.size()) + " shards, " +
                            std::to_string(summary.region_names.size()) + " regions");
  return 0;
}
