// Cell extents and the binned rasters of large maps (trainer/report/map_raster.hpp).
#include "trainer/report/map_raster.hpp"

#include <algorithm>
#include <cmath>

namespace resilinet {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMinSpanDegrees = 1e-4;

// The bin along one axis: position t in [0, 1] of `bins`, clamped so that the far edge belongs to
// the last bin.
int axis_bin(double t, int bins) { return std::clamp(int(std::floor(t * bins)), 0, bins - 1); }

int majority(const uint32_t* counts, int n) {
  int best = -1;
  uint32_t most = 0;
  for (int i = 0; i < n; ++i)
    if (counts[i] > most) most = counts[i], best = i;
  return best;
}

}  // namespace

void MapBounds::add(double lon, double lat) {
  const double east = lon < 0 ? lon + 360 : lon;
  lon_min_ = std::min(lon_min_, lon), lon_max_ = std::max(lon_max_, lon);
  east_min_ = std::min(east_min_, east), east_max_ = std::max(east_max_, east);
  lat_min_ = std::min(lat_min_, lat), lat_max_ = std::max(lat_max_, lat);
}

MapRaster::MapRaster(const MapBounds& bounds, int levels) : levels_(levels), wraps_(bounds.wraps()) {
  lon0_ = bounds.lon_min(), lat0_ = bounds.lat_min();
  lon1_ = std::max(bounds.lon_max(), lon0_ + kMinSpanDegrees);
  lat1_ = std::max(bounds.lat_max(), lat0_ + kMinSpanDegrees);
  const double w = (lon1_ - lon0_) * std::max(0.05, std::cos((lat0_ + lat1_) / 2 * kPi / 180)), h = lat1_ - lat0_;
  if (w >= h)
    cols_ = kRasterSide, rows_ = std::max(1, int(std::lround(kRasterSide * h / w)));
  else
    rows_ = kRasterSide, cols_ = std::max(1, int(std::lround(kRasterSide * w / h)));
  level_.assign(bins() * size_t(levels_), 0);
  bivariate_.assign(bins() * kRasterBivariateClasses, 0);
}

size_t MapRaster::bin(double lon, double lat) const {
  const double u = wraps_ && lon < 0 ? lon + 360 : lon;
  const int col = axis_bin((u - lon0_) / (lon1_ - lon0_), cols_);
  const int row = axis_bin((lat1_ - lat) / (lat1_ - lat0_), rows_);
  return size_t(row) * size_t(cols_) + size_t(col);
}

void MapRaster::add(double lon, double lat, int32_t level, int bivariate) {
  const size_t b = bin(lon, lat);
  ++level_[b * size_t(levels_) + size_t(level - 1)];
  ++bivariate_[b * kRasterBivariateClasses + size_t(bivariate)];
}

uint64_t MapRaster::cells(size_t bin) const {
  uint64_t n = 0;
  for (int k = 0; k < levels_; ++k) n += level_counts(bin)[k];
  return n;
}

int MapRaster::majority_level(size_t bin) const { return majority(level_counts(bin), levels_) + 1; }

int MapRaster::majority_bivariate(size_t bin) const { return majority(bivariate_counts(bin), kRasterBivariateClasses); }

}  // namespace resilinet
