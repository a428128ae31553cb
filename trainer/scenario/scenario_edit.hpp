// Applying a scenario's edits to cells: which cells an edit selects, and what it does to their raw
// values. Pure functions on one cell at a time; trainer/scenario/scenario_run.hpp streams the data.
#pragma once
#include "trainer/scenario/room.hpp"
#include <cstdint>

#include "trainer/scenario/scenario_file.hpp"

namespace resilinet {

// One cell as it was before the scenario.
struct CellView {
  int64_t id = 0;
  uint32_t region = 0;
  double lon = 0, lat = 0;
  int32_t level = 0;     // rated level before (0: not rated)
  const float* x = nullptr;  // raw values, NaN = missing
};

// Great-circle distance in km (haversine, mean Earth radius 6371.0088 km).
double great_circle_km(double lon1, double lat1, double lon2, double lat2);

// Even-odd rule over every ring of the polygon (outer ring and holes).
bool inside(const Polygon& polygon, double lon, double lat);

// The edit's selection holds the cell (and, for a facility, the cell is within its radius).
bool edit_selects(const Edit& edit, const CellView& cell);

// Applies the edit's action to the cell's raw values x (in place). A missing value stays missing
// under add and scale; set fills it. Sets bit f of *edited_features for each feature written.
void apply_edit(const Edit& edit, float* x, uint64_t* edited_features);

}  // namespace resilinet
