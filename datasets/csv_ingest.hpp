// CSV ingest behind `resilinet ingest`: a small RFC 4180 reader (quoted fields, "" escapes, commas
// and newlines inside quotes, CRLF, UTF-8 BOM) and the conversion of rows to HDF5 shards following
// a schema YAML (datasets/schema_yaml.hpp). The whole file is validated before any shard is written;
// bad input is an InputError naming the file, the line and the column.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "datasets/schema_yaml.hpp"
#include "datasets/shard.hpp"

namespace resilinet {

class CsvReader {
 public:
  // Throws InputError if the file cannot be opened.
  explicit CsvReader(std::string path);
  // Reads the next record (blank lines are skipped); returns false at the end of the file.
  bool next(std::vector<std::string>& fields);
  // 1-based line on which the record last returned by next() starts.
  size_t line() const { return record_line_; }
  const std::string& path() const { return path_; }

 private:
  int get();
  int peek();

  std::string path_;
  std::ifstream in_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  size_t line_ = 1, record_line_ = 0;
};

struct IngestOptions {
  std::string csv_path;
  std::string out_dir;
  size_t shard_rows = 1'000'000;
  int deflate_level = 0;
  bool overwrite = false;  // replace existing part-*.h5 files in out_dir
};

struct IngestSummary {
  size_t rows = 0;
  Schema schema;
  std::vector<size_t> missing;  // per feature: empty, NA or no denominator
  std::vector<std::string> region_names;
  std::vector<ShardGrouping> groups;  // sorted by name, with their labels in order of appearance
  bool has_population = false;
  std::vector<std::string> shard_paths;
};

// Reads options.csv_path twice: once to validate every row (and collect ids and regions), once to
// write out_dir/part-00000.h5, ... On failure no part file is left behind.
IngestSummary ingest_csv(const SchemaFile& schema, const IngestOptions& options);

}  // namespace resilinet
