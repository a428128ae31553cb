// Strict reading of scenario files (trainer/scenario/scenario_file.hpp).
#include "trainer/scenario/scenario_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/yaml_keys.hpp"

namespace resilinet {
namespace {

const std::vector<std::string> kTopKeys = {"scenarios"};
const std::vector<std::string> kScenarioKeys = {"name", "description", "edits"};
const std::vector<std::string> kEditKeys = {"select", "set", "add", "scale", "facility"};
const std::vector<std::string> kSelectKeys = {"all", "region", "level", "bbox", "polygon", "geojson", "ids", "threshold"};
const std::vector<std::string> kThresholdKeys = {"feature", "above", "below"};
const std::vector<std::string> kFacilityKeys = {"feature", "lon", "lat", "radius_km", "add"};
constexpr size_t kMaxScenarios = 1000, kMaxEdits = 10000, kMaxPolygonPoints = 10'000'000;

// The context every reader below shares: the file, its folder, the data it is checked against.
struct Reader {
  const std::string& file;
  std::string folder;
  const ScenarioContext& context;

  std::string kind(const YAML::Node& v) const {
    if (!v || v.IsNull()) return "nothing";
    if (v.IsSequence()) return "a list";
    if (v.IsMap()) return "a map";
    return "'" + v.Scalar() + "'";
  }
  [[noreturn]] void fail(const std::string& field, const std::string& expected, const YAML::Node& found) const {
    throw InputError(file, field, expected, kind(found));
  }

  double number(const YAML::Node& v, const std::string& field) const {
    double x = 0;
    try {
      if (!v.IsScalar()) fail(field, "a number", v);
      x = v.as<double>();
    } catch (const YAML::Exception&) {
      fail(field, "a number", v);
    }
    if (!std::isfinite(x)) fail(field, "a finite number", v);
    return x;
  }
  int64_t integer(const YAML::Node& v, const std::string& field, const std::string& expected) const {
    const double x = number(v, field);
    if (x != std::floor(x) || std::fabs(x) > 9.0e15) fail(field, expected, v);
    return int64_t(x);
  }
  std::string text(const YAML::Node& v, const std::string& field) const {
    if (!v.IsScalar()) fail(field, "a name", v);
    const std::string s = v.Scalar();
    check_name(file, field, s);
    return s;
  }
  // A scalar or a list of scalars, each read by `one`.
  template <typename T, typename F>
  std::vector<T> one_or_list(const YAML::Node& v, const std::string& field, F one) const {
    std::vector<T> out;
    if (v.IsSequence()) {
      if (v.size() == 0) fail(field, "one value or a non-empty list", v);
      for (size_t i = 0; i < v.size(); ++i) out.push_back(one(v[i], field + "[" + std::to_string(i) + "]"));
    } else {
      out.push_back(one(v, field));
    }
    return out;
  }

  int feature(const YAML::Node& v, const std::string& field) const {
    const std::string name = text(v, field);
    const auto& names = context.features;
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw InputError(file, field, "a feature of the data (" + join_names(names) + ")", "'" + name + "'");
    return int(it - names.begin());
  }

  double lon(const YAML::Node& v, const std::string& field) const {
    const double x = number(v, field);
    if (x < -180 || x > 180) fail(field, "a longitude in [-180, 180]", v);
    return x;
  }
  double lat(const YAML::Node& v, const std::string& field) const {
    const double x = number(v, field);
    if (x < -90 || x > 90) fail(field, "a latitude in [-90, 90]", v);
    return x;
  }
  LonLat point(const YAML::Node& v, const std::string& field) const {
    if (!v.IsSequence() || v.size() != 2) fail(field, "a point [lon, lat]", v);
    return {lon(v[0], field + "[0]"), lat(v[1], field + "[1]")};
  }

  Selection selection(const YAML::Node& node, const std::string& at) const {
    Selection s;
    if (!node.IsMap()) fail(at, "a map with keys " + join_names(kSelectKeys), node);
    for (const std::string& key : known_map_keys(node, kSelectKeys, file, at)) {
      const YAML::Node v = node[key];
      const std::string field = at + "." + key;
      if (key == "all") {
        if (!v.IsScalar() || v.Scalar() != "true") fail(field, "true (every cell)", v);
      } else if (key == "region") {
        s.regions = one_or_list<uint32_t>(v, field, [&](const YAML::Node& r, const std::string& f) {
          const std::string name = text(r, f);
          const auto& names = context.regions;
          const auto it = std::find(names.begin(), names.end(), name);
          if (it == names.end())
            throw InputError(file, f, "a region of the data (" + join_names(names) + ")", "'" + name + "'");
          return uint32_t(it - names.begin());
        });
      } else if (key == "level") {
        const std::string expected = fmt::format("a level from 1 to {}", context.levels);
        s.levels = one_or_list<int32_t>(v, field, [&](const YAML::Node& l, const std::string& f) {
          const int64_t level = integer(l, f, expected);
          if (level < 1 || level > context.levels) fail(f, expected, l);
          return int32_t(level);
        });
      } else if (key == "bbox") {
        if (!v.IsSequence() || v.size() != 4) fail(field, "[lon_min, lat_min, lon_max, lat_max]", v);
        const LonLat low = {lon(v[0], field + "[0]"), lat(v[1], field + "[1]")};
        const LonLat high = {lon(v[2], field + "[2]"), lat(v[3], field + "[3]")};
        if (!(low[0] < high[0] && low[1] < high[1]))
          fail(field, "lon_min < lon_max and lat_min < lat_max", v);
        s.has_bbox = true;
        s.lon_min = low[0], s.lat_min = low[1], s.lon_max = high[0], s.lat_max = high[1];
      } else if (key == "polygon") {
        if (!v.IsSequence() || v.size() < 3) fail(field, "a ring of at least 3 points [lon, lat]", v);
        if (v.size() > kMaxPolygonPoints) fail(field, fmt::format("at most {} points", kMaxPolygonPoints), v);
        std::vector<LonLat> ring;
        for (size_t i = 0; i < v.size(); ++i) ring.push_back(point(v[i], field + "[" + std::to_string(i) + "]"));
        s.polygons.push_back({std::move(ring)});
      } else if (key == "geojson") {
        const std::string name = text(v, field);
        const std::filesystem::path path = std::filesystem::path(name).is_absolute() ? name : folder + "/" + name;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec))
          throw InputError(file, field, "a GeoJSON file", "'" + name + "' (no such file)");
        std::ifstream in(path);
        std::stringstream body;
        body << in.rdbuf();
        std::vector<Polygon> polygons;
        try {
          polygons = parse_geojson_polygons(body.str(), path.string(), "geometry");
        } catch (const InputError& e) {  // named from the scenario, with the GeoJSON file's own field
          throw InputError(file, field + " (" + name + (e.field().empty() ? "" : " " + e.field()) + ")", e.expected(),
                           e.found());
        }
        for (Polygon& p : polygons) s.polygons.push_back(std::move(p));
      } else if (key == "ids") {
        s.ids = one_or_list<int64_t>(v, field, [&](const YAML::Node& i, const std::string& f) {
          return integer(i, f, "a cell id (a whole number)");
        });
        std::sort(s.ids.begin(), s.ids.end());
      } else if (key == "threshold") {
        s.thresholds = one_or_list<Selection::Threshold>(v, field, [&](const YAML::Node& t, const std::string& f) {
          if (!t.IsMap()) fail(f, "a map with keys " + join_names(kThresholdKeys), t);
          known_map_keys(t, kThresholdKeys, file, f);
          Selection::Threshold out;
          if (!t["feature"]) fail(f + ".feature", "a feature name", t["feature"]);
          out.feature = feature(t["feature"], f + ".feature");
          if (!t["above"] && !t["below"]) fail(f, "above: VALUE, below: VALUE or both", t);
          if (t["above"]) out.above = number(t["above"], f + ".above");
          if (t["below"]) out.below = number(t["below"], f + ".below");
          if (!(out.above < out.below)) fail(f, "above < below", t);
          return out;
        });
      }
    }
    return s;
  }

  Action action(const YAML::Node& edit, const std::string& at) const {
    Action a;
    int actions = 0;
    for (const char* key : {"set", "add", "scale"}) {
      const YAML::Node v = edit[key];
      if (!v) continue;
      ++actions;
      const std::string field = at + "." + key;
      a.kind = std::string(key) == "set" ? Action::Kind::Set : std::string(key) == "add" ? Action::Kind::Add : Action::Kind::Scale;
      if (!v.IsMap() || v.size() == 0) fail(field, "a map of feature: value", v);
      for (const std::string& name : yaml_map_keys(v, file, field)) {
        const int f = feature(YAML::Node(name), field);
        a.values.emplace_back(f, number(v[name], field + "." + name));
      }
    }
    if (const YAML::Node v = edit["facility"]) {
      ++actions;
      const std::string field = at + ".facility";
      a.kind = Action::Kind::Facility;
      if (!v.IsMap()) fail(field, "a map with keys " + join_names(kFacilityKeys), v);
      known_map_keys(v, kFacilityKeys, file, field);
      for (const char* key : {"feature", "lon", "lat", "radius_km"})
        if (!v[key]) fail(field + "." + key, "a value (the key is required)", v[key]);
      a.feature = feature(v["feature"], field + ".feature");
      a.lon = lon(v["lon"], field + ".lon");
      a.lat = lat(v["lat"], field + ".lat");
      a.radius_km = number(v["radius_km"], field + ".radius_km");
      if (!(a.radius_km > 0 && a.radius_km <= 20037.5))
        fail(field + ".radius_km", "a distance in km in (0, 20037.5] (half the Earth's circumference)", v["radius_km"]);
      if (v["add"]) a.amount = number(v["add"], field + ".add");
    }
    if (actions != 1) fail(at, "exactly one action: set, add, scale or facility", edit);
    return a;
  }
};

}  // namespace

std::vector<Polygon> parse_geojson_polygons(const std::string& text, const std::string& file, const std::string& field) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, "", "valid GeoJSON", fmt::format("a syntax error at byte {}", e.byte));
  } catch (const nlohmann::json::exception&) {  // a number beyond double's range
    throw InputError(file, "", "valid GeoJSON", "a number out of range");
  }
  std::vector<Polygon> out;
  const auto ring = [&](const nlohmann::json& r, const std::string& at) {
    if (!r.is_array() || r.size() < 3) throw InputError(file, at, "a ring of at least 3 [lon, lat] positions");
    std::vector<LonLat> points;
    for (size_t i = 0; i < r.size(); ++i) {
      const auto& p = r[i];
      if (!p.is_array() || p.size() < 2 || !p[0].is_number() || !p[1].is_number())
        throw InputError(file, at + "[" + std::to_string(i) + "]", "a position [lon, lat]");
      const double lon = p[0].get<double>(), lat = p[1].get<double>();
      if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
        throw InputError(file, at + "[" + std::to_string(i) + "]", "a longitude in [-180, 180] and a latitude in [-90, 90]");
      points.push_back({lon, lat});
    }
    return points;
  };
  const auto polygon = [&](const nlohmann::json& rings, const std::string& at) {
    if (!rings.is_array() || rings.empty()) throw InputError(file, at, "a list of rings (outer ring first)");
    Polygon p;
    for (size_t i = 0; i < rings.size(); ++i) p.push_back(ring(rings[i], at + "[" + std::to_string(i) + "]"));
    return p;
  };
  std::function<void(const nlohmann::json&, const std::string&)> add = [&](const nlohmann::json& g, const std::string& at) {
    if (!g.is_object() || !g.contains("type") || !g["type"].is_string())
      throw InputError(file, at, "a GeoJSON object with a type");
    const std::string type = g["type"];
    if (type == "FeatureCollection") {
      if (!g.contains("features") || !g["features"].is_array()) throw InputError(file, at + ".features", "a list of features");
      for (size_t i = 0; i < g["features"].size(); ++i) add(g["features"][i], at + ".features[" + std::to_string(i) + "]");
    } else if (type == "Feature") {
      if (!g.contains("geometry")) throw InputError(file, at + ".geometry", "a Polygon or MultiPolygon geometry");
      add(g["geometry"], at + ".geometry");
    } else if (type == "Polygon" && g.contains("coordinates")) {
      out.push_back(polygon(g["coordinates"], at + ".coordinates"));
    } else if (type == "MultiPolygon" && g.contains("coordinates") && g["coordinates"].is_array()) {
      for (size_t i = 0; i < g["coordinates"].size(); ++i)
        out.push_back(polygon(g["coordinates"][i], at + ".coordinates[" + std::to_string(i) + "]"));
    } else {
      throw InputError(file, at, "a Polygon, MultiPolygon, Feature or FeatureCollection with coordinates",
                       "'" + printable(type) + "'");
    }
  };
  add(doc, field);
  if (out.empty()) throw InputError(file, field, "at least one polygon", "none");
  return out;
}

ScenarioFile parse_scenario_file(const std::string& yaml_text, const std::string& file, const ScenarioContext& context) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InputError(file, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  Reader read{file, std::filesystem::path(file).parent_path().string(), context};
  if (read.folder.empty()) read.folder = ".";
  if (!root || !root.IsMap()) read.fail("<top level>", "a map with the key scenarios", root);
  known_map_keys(root, kTopKeys, file, "");
  const YAML::Node list = root["scenarios"];
  if (!list || !list.IsSequence() || list.size() == 0) read.fail("scenarios", "a non-empty list of scenarios", list);
  if (list.size() > kMaxScenarios) read.fail("scenarios", fmt::format("at most {} scenarios", kMaxScenarios), list);
  ScenarioFile out;
  out.path = file;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node node = list[i];
    std::string at = "scenarios[" + std::to_string(i) + "]";
    if (!node.IsMap()) read.fail(at, "a map with keys " + join_names(kScenarioKeys), node);
    known_map_keys(node, kScenarioKeys, file, at);
    Scenario s;
    if (!node["name"]) read.fail(at + ".name", "a scenario name", node["name"]);
    s.name = read.text(node["name"], at + ".name");
    // The name is a folder of --out, beside scenario_summary.json.
    const bool plain = !s.name.empty() && s.name.size() <= 128 && s.name != "." && s.name != ".." &&
                       s.name != "scenario_summary.json" &&
                       std::all_of(s.name.begin(), s.name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                       });
    if (!plain)
      read.fail(at + ".name", "a name of letters, digits, '-', '_' and '.' (it names the output folder)", node["name"]);
    for (const Scenario& other : out.scenarios)
      if (other.name == s.name) read.fail(at + ".name", "a scenario name used once", node["name"]);
    at += " (" + s.name + ")";
    if (node["description"]) {
      if (!node["description"].IsScalar()) read.fail(at + ".description", "a text", node["description"]);
      s.description = node["description"].Scalar();
      check_free_text(file, at + ".description", s.description);
    }
    const YAML::Node edits = node["edits"];
    if (!edits || !edits.IsSequence() || edits.size() == 0) read.fail(at + ".edits", "a non-empty list of edits", edits);
    if (edits.size() > kMaxEdits) read.fail(at + ".edits", fmt::format("at most {} edits", kMaxEdits), edits);
    for (size_t j = 0; j < edits.size(); ++j) {
      Edit e;
      e.where = at + ".edits[" + std::to_string(j) + "]";
      const YAML::Node edit = edits[j];
      if (!edit.IsMap()) read.fail(e.where, "a map with keys " + join_names(kEditKeys), edit);
      known_map_keys(edit, kEditKeys, file, e.where);
      if (edit["select"]) e.select = read.selection(edit["select"], e.where + ".select");
      e.action = read.action(edit, e.where);
      s.edits.push_back(std::move(e));
    }
    out.scenarios.push_back(std::move(s));
  }
  return out;
}

ScenarioFile load_scenario_file(const std::string& path, const ScenarioContext& context) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(path, "--scenario", "a scenario YAML file",
                     std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  std::ifstream in(path);
  if (!in) throw InputError(path, "--scenario", "a readable scenario YAML file", "cannot open it");
  std::stringstream text;
  text << in.rdbuf();
  return parse_scenario_file(text.str(), path, context);
}

}  // namespace resilinet
