// Reads the schema YAML (features, their CSV sources, the ingest column mapping) with strict
// checking: every map is checked against its list of valid keys. No CSV reading here.
#include "datasets/schema_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/shard.hpp"
#include "datasets/text.hpp"
#include "datasets/yaml_keys.hpp"

namespace resilinet {
namespace {

const std::vector<std::string> kTopKeys = {"name", "description", "features", "columns", "na_values"};
const std::vector<std::string> kFeatureKeys = {"name",   "system",    "component", "direction",
                                               "unit",   "description", "column",  "transform",
                                               "per",    "scale"};
const std::vector<std::string> kColumnKeys = {"id",     "lon",         "lat",   "region",
                                              "region_name", "hazard", "external_rating",
                                              "groups", "population"};
const std::vector<std::string> kTransforms = {"none", "log1p", "per_capita"};

std::string qualified(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// A scalar string value; "" when absent and not required.
std::string string_value(const YAML::Node& node, const std::string& key, const std::string& file,
                         const std::string& path, bool required) {
  YAML::Node v = node[key];
  if (!v || v.IsNull()) {
    if (required) throw InputError(file, qualified(path, key), "a value (the key is required)", "nothing");
    return "";
  }
  if (!v.IsScalar()) throw InputError(file, qualified(path, key), "a string", "a list or map");
  std::string text = v.as<std::string>();
  if (key == "description")
    check_free_text(file, qualified(path, key), text);
  else
    check_name(file, qualified(path, key), text);
  return text;
}

double number_value(const YAML::Node& node, const std::string& key, const std::string& file,
                    const std::string& path, double fallback) {
  YAML::Node v = node[key];
  if (!v || v.IsNull()) return fallback;
  try {
    if (!v.IsScalar()) throw YAML::Exception({}, "");
    return v.as<double>();
  } catch (const YAML::Exception&) {
    throw InputError(file, qualified(path, key), "a number",
                     v.IsScalar() ? "'" + v.as<std::string>() + "'" : "a list or map");
  }
}

FeatureTransform parse_transform(const std::string& s, const std::string& file, const std::string& field) {
  if (s.empty() || s == "none") return FeatureTransform::none;
  if (s == "log1p") return FeatureTransform::log1p;
  if (s == "per_capita") return FeatureTransform::per_capita;
  throw InputError(file, field, "one of " + join_names(kTransforms), "'" + s + "'");
}

void read_feature(const YAML::Node& node, size_t index, const std::string& file, SchemaFile& out) {
  const std::string path = "features[" + std::to_string(index) + "]";
  if (!node.IsMap()) throw InputError(file, path, "a map with keys " + join_names(kFeatureKeys));
  known_map_keys(node, kFeatureKeys, file, path);

  FeatureSpec f;
  f.name = string_value(node, "name", file, path, true);
  if (f.name.empty()) throw InputError(file, path + ".name", "a non-empty feature name");
  for (const auto& g : out.schema.features)
    if (g.name == f.name)
      throw InputError(file, path + ".name", "a feature name used once", "'" + f.name + "' again");
  f.system = string_value(node, "system", file, path, true);
  if (f.system.empty()) throw InputError(file, path + ".system", "a non-empty system name");
  f.component = string_value(node, "component", file, path, true);
  bool known = false;
  for (const auto& c : known_components()) known = known || c == f.component;
  if (!known)
    throw InputError(file, path + ".component", "one of " + join_names(known_components()),
                     "'" + f.component + "'");
  double direction = number_value(node, "direction", file, path, 0.0);
  if (direction != 1.0 && direction != -1.0)
    throw InputError(file, path + ".direction",
                     "+1 (more is more resilient) or -1 (less is more resilient)",
                     node["direction"] ? "'" + node["direction"].as<std::string>() + "'" : "nothing");
  f.direction = int(direction);
  f.unit = string_value(node, "unit", file, path, false);

  FeatureSource src;
  src.column = string_value(node, "column", file, path, false);
  if (src.column.empty()) src.column = f.name;
  src.transform = parse_transform(string_value(node, "transform", file, path, false), file,
                                  path + ".transform");
  src.per = string_value(node, "per", file, path, false);
  src.scale = number_value(node, "scale", file, path, 1.0);
  if (src.transform == FeatureTransform::per_capita) {
    if (src.per.empty())
      throw InputError(file, path + ".per", "the denominator column of transform per_capita", "nothing");
    if (!(std::isfinite(src.scale) && src.scale > 0))
      throw InputError(file, path + ".scale", "a positive number", std::to_string(src.scale));
  } else if (node["per"] || node["scale"]) {
    throw InputError(file, path + (node["per"] ? ".per" : ".scale"),
                     "per and scale only with transform: per_capita",
                     std::string("transform: ") + transform_name(src.transform));
  }

  out.schema.features.push_back(f);
  out.descriptions.push_back(string_value(node, "description", file, path, false));
  out.sources.push_back(src);
}

// columns.groups: a list of CSV columns (each grouping named after its column) or a map
// {name: COLUMN}. Names follow the shard's rule for groupings (datasets/shard.hpp); each name once.
std::vector<IngestGrouping> read_groups(const YAML::Node& node, const std::string& file) {
  const std::string key = "columns.groups";
  std::vector<IngestGrouping> out;
  if (!node || node.IsNull()) return out;
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", key, i);
      if (!node[i].IsScalar()) throw InputError(file, at, "a CSV column name", "a list or map");
      const std::string column = node[i].as<std::string>();
      check_name(file, at, column);
      std::string name = column;
      name.erase(0, name.find_first_not_of(" \t"));  // header names are compared without padding
      name.erase(name.find_last_not_of(" \t") + 1);
      if (const std::string problem = grouping_name_problem(name); !problem.empty())
        throw InputError(file, at, "a column whose name can name a grouping (ASCII letters, digits, '_', '-', '.'; "
                         "not 'region'), or a map {name: COLUMN}", "'" + name + "': " + problem);
      out.push_back({name, column});
    }
  } else if (node.IsMap()) {
    for (const std::string& name : yaml_map_keys(node, file, key)) {
      const std::string at = key + "." + name;
      if (const std::string problem = grouping_name_problem(name); !problem.empty())
        throw InputError(file, at, "a grouping name of 1..64 ASCII letters, digits, '_', '-' or '.' (not 'region')",
                         problem);
      out.push_back({name, string_value(node, name, file, key, true)});
      if (out.back().column.empty()) throw InputError(file, at, "a CSV column name", "nothing");
    }
  } else {
    if (node.IsScalar()) check_name(file, key, node.Scalar());  // before it is echoed
    throw InputError(file, key, "a list of CSV columns or a map {name: COLUMN}",
                     node.IsScalar() ? "'" + node.Scalar() + "'" : "another kind of node");
  }
  if (out.size() > kMaxGroupings)
    throw InputError(file, key, fmt::format("at most {} groupings", kMaxGroupings), std::to_string(out.size()));
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (out[j].name == out[i].name)
        throw InputError(file, key, "each grouping once", "'" + out[i].name + "' twice");
  return out;
}

void read_columns(const YAML::Node& node, const std::string& file, SchemaFile& out) {
  if (!node.IsMap()) throw InputError(file, "columns", "a map with keys " + join_names(kColumnKeys));
  known_map_keys(node, kColumnKeys, file, "columns");
  IngestColumns& c = out.columns;
  c.id = string_value(node, "id", file, "columns", false);
  c.lon = string_value(node, "lon", file, "columns", false);
  c.lat = string_value(node, "lat", file, "columns", false);
  c.region = string_value(node, "region", file, "columns", false);
  c.region_name = string_value(node, "region_name", file, "columns", false);
  c.hazard = string_value(node, "hazard", file, "columns", false);
  c.external_rating = string_value(node, "external_rating", file, "columns", false);
  c.groups = read_groups(node["groups"], file);
  c.population = string_value(node, "population", file, "columns", false);
  if (!c.region.empty() && !c.region_name.empty())
    throw InputError(file, "columns.region_name", "either region (a column) or region_name (one name)",
                     "both");
  out.has_columns = true;
}

}  // namespace

std::vector<std::string> default_na_values() { return {"", "NA", "N/A", "NaN", "nan", "null"}; }

const char* transform_name(FeatureTransform t) {
  switch (t) {
    case FeatureTransform::log1p: return "log1p";
    case FeatureTransform::per_capita: return "per_capita";
    default: return "none";
  }
}

SchemaFile parse_schema_yaml(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InputError(file, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  if (!root || !root.IsMap())
    throw InputError(file, "<top level>", "a map with keys " + join_names(kTopKeys));
  known_map_keys(root, kTopKeys, file, "");

  SchemaFile out;
  out.path = file;
  out.name = string_value(root, "name", file, "", false);
  out.description = string_value(root, "description", file, "", false);
  YAML::Node features = root["features"];
  if (!features || !features.IsSequence() || features.size() == 0)
    throw InputError(file, "features", "a non-empty list of features");
  for (size_t i = 0; i < features.size(); ++i) read_feature(features[i], i, file, out);
  if (root["columns"] && !root["columns"].IsNull()) read_columns(root["columns"], file, out);

  out.na_values = default_na_values();
  if (YAML::Node na = root["na_values"]; na && !na.IsNull()) {
    if (!na.IsSequence()) throw InputError(file, "na_values", "a list of strings");
    for (const auto& v : na) {
      if (!v.IsScalar()) throw InputError(file, "na_values", "a list of strings", "a nested list or map");
      out.na_values.push_back(v.as<std::string>());
      check_name(file, "na_values", out.na_values.back());
    }
  }
  return out;
}

SchemaFile load_schema_yaml(const std::string& path) {
  // A folder opens as a stream on Linux and then reads as an empty document.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "", "a schema YAML file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "a readable schema YAML file", "no such file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_schema_yaml(ss.str(), path);
}

}  // namespace resilinet
