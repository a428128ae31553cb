// The schema YAML (configs/schema/README.md): the feature schema of a dataset plus, for
// `resilinet ingest`, how CSV columns map to features, ids, coordinates and regions. Strict: unknown
// keys and bad values throw InputError naming the file, the key and the valid choices.
// It does not read CSV; datasets/csv_ingest.hpp does.
#pragma once
#include <string>
#include <vector>

#include "datasets/schema.hpp"

namespace resilinet {

enum class FeatureTransform { none, log1p, per_capita };

// How one feature is computed from a CSV row.
struct FeatureSource {
  std::string column;  // CSV column; defaults to the feature name
  FeatureTransform transform = FeatureTransform::none;
  std::string per;     // per_capita: the denominator column (e.g. population)
  double scale = 1.0;  // per_capita: value = column / per * scale (e.g. 100000 for "per 100k")
  bool operator==(const FeatureSource&) const = default;
};

// A grouping (county, tract, district): a CSV column of labels, stored as /groups/<name>.
struct IngestGrouping {
  std::string name;    // grouping name (datasets/shard.hpp: grouping_name_problem)
  std::string column;  // CSV column of labels
  bool operator==(const IngestGrouping&) const = default;
};

// The `columns:` section: which CSV columns hold the id, coordinates, region and optional columns.
struct IngestColumns {
  std::string id;               // required for ingest; integer ids (leading zeros allowed)
  std::string lon, lat;         // required for ingest; decimal degrees
  std::string region;           // optional: a column of region names
  std::string region_name;      // used when there is no region column (default: the CSV file stem)
  std::string hazard;           // optional -> /hazard
  std::string external_rating;  // optional -> /external_rating (1..5; 0 or empty = none)
  std::vector<IngestGrouping> groups;  // optional -> /groups/<name>, in the file's order
  std::string population;       // optional -> /population (residents >= 0; missing = NaN)
  bool operator==(const IngestColumns&) const = default;
};

struct SchemaFile {
  std::string path;                       // for messages
  std::string name, description;          // free text
  Schema schema;
  std::vector<std::string> descriptions;  // per feature, may be empty strings
  std::vector<FeatureSource> sources;     // per feature
  bool has_columns = false;               // a `columns:` section was present
  IngestColumns columns;
  std::vector<std::string> na_values;     // CSV cells (trimmed) that mean "missing"
};

std::vector<std::string> default_na_values();
const char* transform_name(FeatureTransform t);

// Reads and validates a schema file; throws InputError on any unknown key or bad value.
SchemaFile load_schema_yaml(const std::string& path);
// Parses YAML text; file is used in messages only.
SchemaFile parse_schema_yaml(const std::string& yaml_text, const std::string& file);

}  // namespace resilinet
