// Selections and actions of scenario edits (trainer/scenario/scenario_edit.hpp).
#include "trainer/scenario/scenario_edit.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace resilinet {

double great_circle_km(double lon1, double lat1, double lon2, double lat2) {
  constexpr double kEarthRadiusKm = 6371.0088;
  constexpr double rad = std::numbers::pi / 180.0;
  const double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * rad) * std::cos(lat2 * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

bool inside(const Polygon& polygon, double lon, double lat) {
  bool in = false;
  for (const auto& ring : polygon)
    for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
      const double xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) in = !in;
    }
  return in;
}

bool edit_selects(const Edit& edit, const CellView& c) {
  const Selection& s = edit.select;
  if (!s.regions.empty() && std::find(s.regions.begin(), s.regions.end(), c.region) == s.regions.end()) return false;
  if (!s.levels.empty() && std::find(s.levels.begin(), s.levels.end(), c.level) == s.levels.end()) return false;
  if (s.has_bbox && !(c.lon >= s.lon_min && c.lon <= s.lon_max && c.lat >= s.lat_min && c.lat <= s.lat_max))
    return false;
  if (!s.polygons.empty() &&
      std::none_of(s.polygons.begin(), s.polygons.end(), [&](const Polygon& p) { return inside(p, c.lon, c.lat); }))
    return false;
  if (!s.ids.empty() && !std::binary_search(s.ids.begin(), s.ids.end(), c.id)) return false;
  for (const Selection::Threshold& t : s.thresholds) {
    const double v = c.x[t.feature];
    if (!(v > t.above && v < t.below)) return false;  // NaN (missing) meets no threshold
  }
  const Action& a = edit.action;
  if (a.kind == Action::Kind::Facility && great_circle_km(a.lon, a.lat, c.lon, c.lat) > a.radius_km) return false;
  return true;
}

void apply_edit(const Edit& edit, float* x, uint64_t* edited_features) {
  const Action& a = edit.action;
  const auto mark = [&](int f) { edited_features[f / 64] |= uint64_t(1) << (f % 64); };
  if (a.kind == Action::Kind::Facility) {
    x[a.feature] = float(double(x[a.feature]) + a.amount);
    mark(a.feature);
    return;
  }
  for (const auto& [f, v] : a.values) {
    switch (a.kind) {
      case Action::Kind::Set: x[f] = float(v); break;
      case Action::Kind::Add: x[f] = float(double(x[f]) + v); break;
      case Action::Kind::Scale: x[f] = float(double(x[f]) * v); break;
      case Action::Kind::Facility: break;
    }
    mark(f);
  }
}

}  // namespace resilinet
