// The scenario file of `resilinet scenario` (docs/FORMAT.md "Scenario files"): named scenarios,
// each a list of edits; an edit is a selection of cells and one action on their raw feature
// values. Read strictly: every name is resolved against the data (features, regions, levels) and
// every error names the scenario and the field. No data is read here.
#pragma once
#include "trainer/scenario/room.hpp"
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace resilinet {

// What a scenario file is checked against.
struct ScenarioContext {
  std::vector<std::string> features;  // schema order
  std::vector<std::string> regions;   // ShardSet::region_names
  int levels = 5;
};

using LonLat = std::array<double, 2>;

// A polygon: its outer ring, then its holes (GeoJSON order); a point is inside by the even-odd rule.
using Polygon = std::vector<std::vector<LonLat>>;

// A cell is selected when it meets every criterion given (none given: every cell). Criteria are
// met by the cell as it was before the scenario: its raw values and its rated level.
struct Selection {
  std::vector<uint32_t> regions;  // any of these region indices
  std::vector<int32_t> levels;    // any of these levels 1..K
  bool has_bbox = false;
  double lon_min = 0, lat_min = 0, lon_max = 0, lat_max = 0;
  std::vector<Polygon> polygons;  // inside any of them
  std::vector<int64_t> ids;       // sorted cell ids
  struct Threshold {
    int feature = 0;
    double above = -std::numeric_limits<double>::infinity();  // value > above
    double below = std::numeric_limits<double>::infinity();   // value < below
  };
  std::vector<Threshold> thresholds;  // a missing value meets no threshold
};

struct Action {
  enum class Kind { Set, Add, Scale, Facility };
  Kind kind = Kind::Set;
  std::vector<std::pair<int, double>> values;  // set / add / scale: (feature, value)
  // facility: adds `amount` to `feature` in every selected cell within radius_km of (lon, lat).
  int feature = 0;
  double lon = 0, lat = 0, radius_km = 0, amount = 1;
};

struct Edit {
  std::string where;  // "scenarios[0] (name).edits[1]", for messages
  Selection select;
  Action action;
};

struct Scenario {
  std::string name;  // also the name of its output folder
  std::string description;
  std::vector<Edit> edits;
};

struct ScenarioFile {
  std::string path;
  std::vector<Scenario> scenarios;
};

// Parses a scenario file's text; `file` names it in errors, and relative GeoJSON paths are read
// from its folder. Throws InputError.
ScenarioFile parse_scenario_file(const std::string& yaml_text, const std::string& file, const ScenarioContext& context);
ScenarioFile load_scenario_file(const std::string& path, const ScenarioContext& context);

// The polygons of a GeoJSON text: a Polygon or MultiPolygon geometry, a Feature holding one, or a
// FeatureCollection of those. Throws InputError(file, field, ...).
std::vector<Polygon> parse_geojson_polygons(const std::string& text, const std::string& file, const std::string& field);

}  // namespace resilinet
