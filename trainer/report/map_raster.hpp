// The extent of a map's cells and the raster a large map is drawn from: every rated cell is counted
// in a bin of a grid over the extent, per level and per risk x resilience class, so that memory is
// the grid's whatever the number of cells. Counting only; report_svg.cpp draws it.
#pragma once
#include "trainer/report/room.hpp"
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace resilinet {

// Longitudes and latitudes seen so far. Cells on both sides of the antimeridian (the Aleutians,
// Fiji) would stretch a map around the globe: then longitudes run 0..360 instead, when that spans less.
class MapBounds {
 public:
  void add(double lon, double lat);
  bool empty() const { return !(lat_min_ <= lat_max_); }
  bool wraps() const { return lon_min_ < 0 && lon_max_ >= 0 && east_max_ - east_min_ < lon_max_ - lon_min_; }
  // A longitude in the map's own units: lon, or lon + 360 for a western one when the map wraps.
  double frame_lon(double lon) const { return wraps() && lon < 0 ? lon + 360 : lon; }
  double lon_min() const { return wraps() ? east_min_ : lon_min_; }  // frame units
  double lon_max() const { return wraps() ? east_max_ : lon_max_; }
  double lat_min() const { return lat_min_; }
  double lat_max() const { return lat_max_; }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  double lon_min_ = kInf, lon_max_ = -kInf, east_min_ = kInf, east_max_ = -kInf, lat_min_ = kInf, lat_max_ = -kInf;
};

inline constexpr int kRasterSide = 128;  // bins along the longer side of a raster map
// Classes of the risk x resilience raster: resilience bin * 3 + risk bin (report_views.hpp), and
// one for rated cells without a risk class.
inline constexpr int kRasterBivariateClasses = 10;
inline constexpr int kRasterNoRisk = kRasterBivariateClasses - 1;

class MapRaster {
 public:
  // A grid over the bounds (each side at least 1e-4 degrees), with square bins on the map
  // (longitudes shortened by the cosine of the middle latitude) and kRasterSide of them along the
  // longer side.
  MapRaster(const MapBounds& bounds, int levels);

  // bivariate: 0..kRasterBivariateClasses - 1 (kRasterNoRisk without a risk class).
  void add(double lon, double lat, int32_t level, int bivariate);

  int cols() const { return cols_; }
  int rows() const { return rows_; }
  size_t bins() const { return size_t(cols_) * size_t(rows_); }
  int levels() const { return levels_; }
  bool wraps() const { return wraps_; }
  // The grid's extent, in frame longitude units (MapBounds::frame_lon).
  double lon0() const { return lon0_; }
  double lon1() const { return lon1_; }
  double lat0() const { return lat0_; }
  double lat1() const { return lat1_; }

  // row * cols + col; column 0 at the west edge, row 0 at the north edge.
  size_t bin(double lon, double lat) const;
  const uint32_t* level_counts(size_t bin) const { return level_.data() + bin * size_t(levels_); }
  const uint32_t* bivariate_counts(size_t bin) const { return bivariate_.data() + bin * kRasterBivariateClasses; }
  uint64_t cells(size_t bin) const;
  // The level with the most cells in the bin, 1..K; ties go to the lower level; 0 for an empty bin.
  int majority_level(size_t bin) const;
  // The class with the most cells, ties to the lower class; -1 for an empty bin.
  int majority_bivariate(size_t bin) const;

 private:
  int levels_, cols_ = 1, rows_ = 1;
  bool wraps_;
  double lon0_, lon1_, lat0_, lat1_;
  std::vector<uint32_t> level_;      // [bin][level - 1]
  std::vector<uint32_t> bivariate_;  // [bin][class]
};

}  // namespace resilinet
