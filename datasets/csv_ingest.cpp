// CSV to shards: the reader, the per-row parsing and checks against the schema's column mapping,
// and the two passes (validate everything, then write through ShardWriter). The schema YAML itself
// is read by schema_yaml.cpp; the shard format is shard_writer.cpp's.
#include "datasets/csv_ingest.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard.hpp"
#include "datasets/text.hpp"

namespace resilinet {

// ---------------------------------------------------------------------------------------------
// Reader

CsvReader::CsvReader(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
  // A folder opens as a stream on Linux and then reads as an empty file.
  if (std::error_code ec; std::filesystem::is_directory(path_, ec))
    throw InputError(path_, "", "a CSV file", "a folder");
  if (!in_) throw InputError(path_, "", "a readable CSV file", "no such file");
  buffer_.resize(1 << 20);
  // A UTF-8 byte order mark (as spreadsheet exports write) is not part of the first column name.
  if (peek() == 0xEF && end_ >= 3 && (unsigned char)buffer_[1] == 0xBB && (unsigned char)buffer_[2] == 0xBF)
    pos_ = 3;
}

int CsvReader::peek() {
  if (pos_ == end_) {
    in_.read(buffer_.data(), std::streamsize(buffer_.size()));
    end_ = size_t(in_.gcount());
    pos_ = 0;
    if (end_ == 0) return -1;
  }
  return (unsigned char)buffer_[pos_];
}

int CsvReader::get() {
  int c = peek();
  if (c >= 0) ++pos_;
  return c;
}

bool CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  int c = get();
  // Blank lines between records are skipped.
  while (c == '\n' || c == '\r') {
    if (c == '\r' && peek() == '\n') get();
    ++line_;
    c = get();
  }
  if (c < 0) return false;
  record_line_ = line_;
  for (;;) {
    std::string field;
    if (c == '"') {
      const size_t opened = line_;
      for (;;) {
        c = get();
        if (c < 0)
          throw InputError(path_, fmt::format("line {}", opened),
                           "a closing quote for the field opened on this line", "the end of the file");
        if (c == '"') {
          if (peek() != '"') break;
          get();
        }
        if (c == '\n') ++line_;
        field.push_back(char(c));
      }
      c = get();
      if (c != ',' && c != '\n' && c != '\r' && c >= 0)
        throw InputError(path_, fmt::format("line {}, field {}", line_, fields.size() + 1),
                         "a comma or a line end after a closing quote", fmt::format("'{}'", char(c)));
    } else {
      while (c != ',' && c != '\n' && c != '\r' && c >= 0) {
        field.push_back(char(c));
        c = get();
      }
    }
    fields.push_back(std::move(field));
    if (c == ',') {
      c = get();
      continue;
    }
    if (c == '\r' && peek() == '\n') get();
    if (c >= 0) ++line_;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Rows

namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::string join(const std::vector<std::string>& v, size_t limit = 12) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > limit) s += fmt::format(", ... ({} in all)", v.size());
  return s;
}

// A cell's text for a one-line message: shortened, line breaks shown as \n.
std::string quoted(const std::string& text) {
  std::string s;
  for (char c : text.substr(0, 40)) s += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
  return "'" + s + (text.size() > 40 ? "...'" : "'");
}

bool parse_number(const std::string& text, double& value) {
  std::string s = trim(text);
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, value);
  return r.ec == std::errc() && r.ptr == e;
}

bool parse_integer(const std::string& text, int64_t& value) {
  std::string s = trim(text);
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, value);
  return r.ec == std::errc() && r.ptr == e;
}

struct ParsedRow {
  int64_t id = 0;
  double lon = 0, lat = 0;
  std::string region;
  std::vector<float> features;
  std::vector<bool> missing;
  float hazard = std::numeric_limits<float>::quiet_NaN();
  int8_t rating = 0;
  std::vector<std::string> groups;  // a label per grouping, in the schema's order
  float population = std::numeric_limits<float>::quiet_NaN();
};

// Resolves the schema's columns against the header once, then parses and checks rows.
class RowParser {
 public:
  RowParser(const SchemaFile& schema, const std::vector<std::string>& header, const std::string& csv)
      : schema_(schema), csv_(csv), header_size_(header.size()) {
    const IngestColumns& c = schema.columns;
    if (!schema.has_columns || c.id.empty() || c.lon.empty() || c.lat.empty())
      throw InputError(schema.path, c.id.empty() ? "columns.id" : c.lon.empty() ? "columns.lon" : "columns.lat",
                       "a columns: section naming at least id, lon and lat (needed by ingest)", "nothing");
    for (size_t i = 0; i < header.size(); ++i) header_.push_back(trim(header[i]));
    id_ = find(c.id, "columns.id");
    lon_ = find(c.lon, "columns.lon");
    lat_ = find(c.lat, "columns.lat");
    region_ = c.region.empty() ? -1 : find(c.region, "columns.region");
    hazard_ = c.hazard.empty() ? -1 : find(c.hazard, "columns.hazard");
    rating_ = c.external_rating.empty() ? -1 : find(c.external_rating, "columns.external_rating");
    population_ = c.population.empty() ? -1 : find(c.population, "columns.population");
    for (const IngestGrouping& g : c.groups) group_.push_back(find(g.column, "columns.groups (" + g.name + ")"));
    for (size_t f = 0; f < schema.sources.size(); ++f) {
      const FeatureSource& s = schema.sources[f];
      const std::string at = fmt::format("features[{}] ({})", f, schema.schema.features[f].name);
      feature_.push_back(find(s.column, at + ".column"));
      per_.push_back(s.transform == FeatureTransform::per_capita ? find(s.per, at + ".per") : -1);
    }
    if (region_ < 0) {
      fixed_region_ = c.region_name.empty() ? fs::path(csv).stem().string() : c.region_name;
      check_name(csv, "region name (the file's name without .csv)", fixed_region_);
    }
  }

  void parse(const std::vector<std::string>& fields, size_t line, ParsedRow& row) const {
    if (fields.size() != header_size_)
      throw InputError(csv_, fmt::format("line {}", line),
                       fmt::format("{} fields as in the header", header_size_),
                       fmt::format("{} fields", fields.size()));
    if (!parse_integer(fields[id_], row.id))
      throw error(line, id_, "an integer id", fields[id_]);
    row.lon = coordinate(fields, line, lon_, 180.0, "a longitude in [-180, 180]");
    row.lat = coordinate(fields, line, lat_, 90.0, "a latitude in [-90, 90]");
    if (region_ >= 0) {
      row.region = trim(fields[region_]);
      if (row.region.empty()) throw error(line, region_, "a region name", "");
      check_name(csv_, fmt::format("line {}, column '{}'", line, header_[region_]), row.region);
    } else {
      row.region = fixed_region_;
    }
    const size_t F = feature_.size();
    row.features.assign(F, std::numeric_limits<float>::quiet_NaN());
    row.missing.assign(F, true);
    for (size_t f = 0; f < F; ++f) {
      double v;
      if (!value(fields, line, feature_[f], v)) continue;
      const FeatureSource& s = schema_.sources[f];
      if (s.transform == FeatureTransform::log1p) {
        if (!(v > -1.0)) throw error(line, feature_[f], "a value > -1 (transform log1p)", fields[feature_[f]]);
        v = std::log1p(v);
      } else if (s.transform == FeatureTransform::per_capita) {
        double per;
        if (!value(fields, line, per_[f], per)) continue;
        if (per < 0) throw error(line, per_[f], "a non-negative denominator (transform per_capita)", fields[per_[f]]);
        if (per == 0) continue;  // no residents: the rate is undefined, counted as missing
        v = v / per * s.scale;
      }
      check_magnitude(fields, line, feature_[f], v);
      row.features[f] = float(v);
      row.missing[f] = false;
    }
    row.hazard = std::numeric_limits<float>::quiet_NaN();
    if (double h; hazard_ >= 0 && value(fields, line, hazard_, h)) {
      check_magnitude(fields, line, hazard_, h);
      row.hazard = float(h);
    }
    row.rating = 0;
    if (rating_ >= 0 && !is_missing(fields[rating_])) {
      int64_t r;
      if (!parse_integer(fields[rating_], r) || r < 0 || r > 5)
        throw error(line, rating_, "an integer rating 1..5 (0 or empty = none)", fields[rating_]);
      row.rating = int8_t(r);
    }
    row.groups.resize(group_.size());
    for (size_t g = 0; g < group_.size(); ++g) {
      row.groups[g] = trim(fields[group_[g]]);
      if (row.groups[g].empty())
        throw error(line, group_[g], "a label of grouping '" + schema_.columns.groups[g].name + "'", "");
      check_name(csv_, fmt::format("line {}, column '{}'", line, header_[group_[g]]), row.groups[g]);
    }
    row.population = std::numeric_limits<float>::quiet_NaN();
    if (double p; population_ >= 0 && value(fields, line, population_, p)) {
      if (!(p >= 0 && p <= double(kMaxFeatureMagnitude)))
        throw error(line, population_, fmt::format("a number of residents >= 0 and at most {:g}", kMaxFeatureMagnitude),
                    fields[population_]);
      row.population = float(p);
    }
  }

  std::string column_name(int index) const { return header_[index]; }
  int id_column() const { return id_; }

 private:
  int find(const std::string& column, const std::string& key) const {
    const std::string name = trim(column);  // header names are compared without padding
    int found = -1;
    for (size_t i = 0; i < header_.size(); ++i) {
      if (header_[i] != name) continue;
      if (found >= 0)
        throw InputError(csv_, "header", fmt::format("column '{}' ({} in {}) once", name, key, schema_.path),
                         "it twice");
      found = int(i);
    }
    if (found < 0)
      throw InputError(csv_, "header", fmt::format("a column '{}' ({} in {})", name, key, schema_.path),
                       "columns " + join(header_));
    return found;
  }
  std::string na_list() const {
    std::vector<std::string> shown;
    for (const auto& v : schema_.na_values) shown.push_back(v.empty() ? "empty" : v);
    return join(shown);
  }
  bool is_missing(const std::string& text) const {
    const std::string s = trim(text);
    return std::find(schema_.na_values.begin(), schema_.na_values.end(), s) != schema_.na_values.end();
  }
  // false for a missing value; throws for text that is not a finite number.
  bool value(const std::vector<std::string>& fields, size_t line, int column, double& v) const {
    if (is_missing(fields[column])) return false;
    if (!parse_number(fields[column], v) || !std::isfinite(v))
      throw error(line, column, "a finite number or a missing-value marker (" + na_list() + ")", fields[column]);
    return true;
  }
  // The bound shard readers hold feature and hazard values to (datasets/shard.hpp); it also keeps
  // float(v) finite.
  void check_magnitude(const std::vector<std::string>& fields, size_t line, int column, double v) const {
    if (!(std::abs(v) <= double(kMaxFeatureMagnitude)))
      throw error(line, column, fmt::format("a value of magnitude at most {:g}", kMaxFeatureMagnitude), fields[column]);
  }
  double coordinate(const std::vector<std::string>& fields, size_t line, int column, double limit,
                    const char* expected) const {
    double v;
    if (!parse_number(fields[column], v) || !(v >= -limit && v <= limit))
      throw error(line, column, expected, fields[column]);
    return v;
  }
  InputError error(size_t line, int column, const std::string& expected, const std::string& found) const {
    return InputError(csv_, fmt::format("line {}, column '{}'", line, header_[column]), expected, quoted(found));
  }

  const SchemaFile& schema_;
  std::string csv_;
  size_t header_size_;
  std::vector<std::string> header_;
  int id_ = -1, lon_ = -1, lat_ = -1, region_ = -1, hazard_ = -1, rating_ = -1, population_ = -1;
  std::vector<int> feature_, per_, group_;
  std::string fixed_region_;
};

// Opens the CSV and reads its header; an empty file is an error.
std::vector<std::string> read_header(CsvReader& reader) {
  std::vector<std::string> header;
  if (!reader.next(header))
    throw InputError(reader.path(), "line 1", "a header line and at least one data row", "an empty file");
  return header;
}

// Checks the output folder before anything is read twice; does not create it.
void check_output_dir(const std::string& out_dir, bool overwrite) {
  if (!fs::exists(out_dir)) return;
  if (!fs::is_directory(out_dir)) throw InputError(out_dir, "--out", "a folder", "a file");
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    if (entry.path().extension() != ".h5") continue;
    bool ours = entry.path().filename().string().rfind("part-", 0) == 0;
    if (!ours || !overwrite)
      throw InputError(out_dir, "--out",
                       ours ? "a folder without .h5 files (pass --overwrite to replace part-*.h5)"
                            : "a folder without .h5 files other than part-*.h5",
                       entry.path().filename().string());
  }
}

}  // namespace

IngestSummary ingest_csv(const SchemaFile& schema, const IngestOptions& options) {
  const std::string& csv = options.csv_path;
  if (options.shard_rows == 0) throw InputError("command line", "--shard-rows", "a positive number of rows", "0");
  if (options.deflate_level < 0 || options.deflate_level > 9)
    throw InputError("command line", "--deflate", "a level in 0..9", std::to_string(options.deflate_level));
  check_output_dir(options.out_dir, options.overwrite);

  IngestSummary summary;
  summary.schema = schema.schema;
  summary.missing.assign(schema.schema.size(), 0);
  const size_t F = schema.schema.size();

  // Pass 1: every row parsed and checked; ids must be unique; regions and each grouping's labels
  // named in order of appearance.
  std::unordered_map<std::string, uint32_t> region_index;
  const std::vector<IngestGrouping>& groupings = schema.columns.groups;
  std::vector<std::unordered_map<std::string, uint32_t>> label_index(groupings.size());
  std::vector<std::vector<std::string>> labels(groupings.size());
  {
    CsvReader reader(csv);
    RowParser parser(schema, read_header(reader), csv);
    std::unordered_map<int64_t, size_t> first_line;
    std::vector<std::string> fields;
    ParsedRow row;
    while (reader.next(fields)) {
      parser.parse(fields, reader.line(), row);
      auto [it, inserted] = first_line.emplace(row.id, reader.line());
      if (!inserted)
        throw InputError(csv, fmt::format("line {}, column '{}'", reader.line(), parser.column_name(parser.id_column())),
                         "unique ids", fmt::format("id {} again (first on line {})", row.id, it->second));
      if (region_index.emplace(row.region, uint32_t(summary.region_names.size())).second)
        summary.region_names.push_back(row.region);
      for (size_t g = 0; g < groupings.size(); ++g)
        if (label_index[g].emplace(row.groups[g], uint32_t(labels[g].size())).second) labels[g].push_back(row.groups[g]);
      for (size_t f = 0; f < F; ++f) summary.missing[f] += row.missing[f] ? 1 : 0;
      ++summary.rows;
    }
    if (summary.rows == 0)
      throw InputError(csv, "line 2", "at least one data row after the header", "only the header");
  }

  // Pass 2: write. Anything thrown now removes what was written.
  const bool created_dir = !fs::exists(options.out_dir);
  make_output_dir(options.out_dir, "--out");
  for (const auto& entry : fs::directory_iterator(options.out_dir))
    if (entry.path().extension() == ".h5") fs::remove(entry.path());  // only part-*.h5 remain here

  ShardWriterOptions wo;
  wo.chunk_rows = std::max<size_t>(1, std::min({size_t(65536), options.shard_rows, summary.rows}));
  wo.deflate_level = options.deflate_level;
  wo.has_hazard = !schema.columns.hazard.empty();
  wo.has_external_rating = !schema.columns.external_rating.empty();
  wo.has_population = !schema.columns.population.empty();
  // Shards keep groupings sorted by name; order[k] is the schema's index of the k-th.
  std::vector<size_t> order(groupings.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return groupings[a].name < groupings[b].name; });
  for (size_t g : order) wo.groups.push_back({groupings[g].name, std::move(labels[g])});
  const size_t G = order.size();
  summary.groups = wo.groups;
  summary.has_population = wo.has_population;
  std::unique_ptr<ShardWriter> writer;
  try {
    CsvReader reader(csv);
    RowParser parser(schema, read_header(reader), csv);
    std::vector<std::string> fields;
    ParsedRow row;
    ShardColumns block;
    size_t in_shard = 0, written = 0;
    auto flush = [&] {
      if (block.rows == 0) return;
      if (!writer) {
        summary.shard_paths.push_back(
            (fs::path(options.out_dir) / fmt::format("part-{:05d}.h5", summary.shard_paths.size())).string());
        writer = std::make_unique<ShardWriter>(summary.shard_paths.back(), schema.schema,
                                               summary.region_names, wo);
      }
      writer->append(block);
      in_shard += block.rows;
      block.resize(0, F, wo.has_hazard, wo.has_external_rating, false, G, wo.has_population);
      if (in_shard == options.shard_rows) {
        writer->commit();
        writer.reset();
        in_shard = 0;
      }
    };
    block.resize(0, F, wo.has_hazard, wo.has_external_rating, false, G, wo.has_population);
    while (reader.next(fields)) {
      parser.parse(fields, reader.line(), row);
      auto region = region_index.find(row.region);
      if (region == region_index.end())
        throw std::runtime_error(csv + " changed while it was being ingested (new region '" + row.region + "')");
      const size_t i = block.rows;
      block.resize(i + 1, F, wo.has_hazard, wo.has_external_rating, false, G, wo.has_population);
      std::copy(row.features.begin(), row.features.end(), block.features.begin() + i * F);
      block.cell_id[i] = row.id;
      block.lonlat[2 * i] = row.lon;
      block.lonlat[2 * i + 1] = row.lat;
      block.region[i] = region->second;
      if (wo.has_hazard) block.hazard[i] = row.hazard;
      if (wo.has_external_rating) block.external_rating[i] = row.rating;
      if (wo.has_population) block.population[i] = row.population;
      for (size_t k = 0; k < G; ++k) {
        auto label = label_index[order[k]].find(row.groups[order[k]]);
        if (label == label_index[order[k]].end())
          throw std::runtime_error(csv + " changed while it was being ingested (new label '" + row.groups[order[k]] + "')");
        block.groups[i * G + k] = label->second;
      }
      ++written;
      if (block.rows == wo.chunk_rows || in_shard + block.rows == options.shard_rows) flush();
    }
    flush();
    if (writer) {
      writer->commit();
      writer.reset();
    }
    if (written != summary.rows)
      throw std::runtime_error(csv + " changed while it was being ingested (row count)");
  } catch (...) {
    writer.reset();  // removes its temporary file
    std::error_code ec;
    for (const auto& p : summary.shard_paths) fs::remove(p, ec);
    if (created_dir) fs::remove(options.out_dir, ec);  // only if it is empty
    throw;
  }
  return summary;
}

}  // namespace resilinet
