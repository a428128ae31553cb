// libFuzzer harness: the scenario file (parse_scenario_file, trainer/scenario/scenario_file.hpp),
// and GeoJSON polygons (parse_geojson_polygons) for inputs that start with '{'. Bad text must fail
// as InputError only. An accepted file must be what the scenario run relies on: named scenarios,
// each with edits whose features, regions and levels are within the context; and its selections
// and actions must run on a few cells without failing.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "trainer/scenario/scenario_edit.hpp"
#include "trainer/scenario/scenario_file.hpp"

namespace {

const resilinet::ScenarioContext& context() {
  static const resilinet::ScenarioContext c = {
      {"building_age", "hospitals", "fire_stations", "green_space", "cell_tower_age", "road_redundancy",
       "cell_towers", "road_density", "internet_speed", "poverty", "unemployment", "education"},
      {"metro-a", "metro-b", "metro-c"},
      5};
  return c;
}

void check_accepted(const resilinet::ScenarioFile& file) {
  using resilinet::fuzz::defect;
  const auto& c = context();
  const int F = int(c.features.size());
  if (file.scenarios.empty()) defect("an accepted file has no scenario");
  for (const auto& s : file.scenarios) {
    if (s.name.empty() || s.name == "." || s.name == ".." || s.name.find('/') != std::string::npos)
      defect("an accepted scenario name is not a plain folder name: " + s.name);
    if (s.edits.empty()) defect("an accepted scenario has no edit: " + s.name);
    for (const auto& e : s.edits) {
      for (uint32_t r : e.select.regions)
        if (r >= c.regions.size()) defect("a region index out of range in " + e.where);
      for (int32_t l : e.select.levels)
        if (l < 1 || l > c.levels) defect("a level out of range in " + e.where);
      for (const auto& t : e.select.thresholds)
        if (t.feature < 0 || t.feature >= F) defect("a threshold feature out of range in " + e.where);
      for (const auto& [f, v] : e.action.values)
        if (f < 0 || f >= F || !std::isfinite(v)) defect("an action value out of range in " + e.where);
      if (e.action.kind == resilinet::Action::Kind::Facility &&
          (e.action.feature < 0 || e.action.feature >= F || !(e.action.radius_km > 0)))
        defect("a facility out of range in " + e.where);
    }
    // Selections and actions on a few cells (one with missing values).
    const float nan = std::nanf("");
    for (int cell = 0; cell < 3; ++cell) {
      float x[12];
      for (int f = 0; f < F; ++f) x[f] = cell == 2 && f % 2 ? nan : float(cell * 10 + f);
      const resilinet::CellView view{int64_t(cell), uint32_t(cell), -95.0 + cell, 29.5 + cell, cell + 1, x};
      uint64_t edited[1] = {0};
      for (const auto& e : s.edits)
        if (resilinet::edit_selects(e, view)) resilinet::apply_edit(e, x, edited);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string dir = resilinet::fuzz::scratch_dir().string();
  // The GeoJSON file that `geojson: area.geojson` in a scenario file names.
  static const bool area = [] {
    const std::string polygon =
        R"({"type": "Polygon", "coordinates": [[[-96, 29], [-94, 29], [-94, 31], [-96, 31], [-96, 29]]]})";
    resilinet::fuzz::write_scratch_file("area.geojson", reinterpret_cast<const uint8_t*>(polygon.data()),
                                        polygon.size());
    return true;
  }();
  (void)area;
  if (!text.empty() && text[0] == '{') {
    resilinet::fuzz::expect_input_error_only(
        [&] { resilinet::parse_geojson_polygons(text, dir + "/area.geojson", "geometry"); });
    return 0;
  }
  resilinet::ScenarioFile file;
  if (!resilinet::fuzz::expect_input_error_only(
          [&] { file = resilinet::parse_scenario_file(text, dir + "/fuzz.yaml", context()); }))
    return 0;
  check_accepted(file);
  return 0;
}
