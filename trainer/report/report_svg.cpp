// The SVG charts of report.html (trainer/report/report_html_parts.hpp): cell maps with degree axes,
// their legends, and the training curves' line charts. Sampled cells are drawn as zero-length path
// segments with round caps, one path per colour, so a map of a few thousand cells stays some tens of
// kB (a <circle> per cell would be five times that); a raster map is one PNG image of its bins.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Ticks at a "nice" step (1, 2, 2.5 or 5 times a power of ten), about `target` of them in [lo, hi].
struct Ticks {
  std::vector<double> at;
  int decimals = 0;
};
Ticks nice_ticks(double lo, double hi, int target = 5) {
  Ticks t;
  const double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) {
    t.at = {lo};
    return t;
  }
  const double raw = span / target, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  t.decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)) + (step / magnitude == 2.5 ? 1 : 0));
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.at.push_back(v);
  return t;
}

std::string degrees(double v, int decimals, char positive, char negative) {
  if (std::abs(v) < 0.5 * std::pow(10.0, -decimals)) return "0°";
  return fmt::format("{:.{}f}°{}", std::abs(v), decimals, v > 0 ? positive : negative);
}

// Equirectangular frame around the cells: x scaled by cos(mean latitude), so that distances look
// right near the region; degree ticks on the left and bottom axes.
class MapFrame {
 public:
  // Around sampled cells (MapBounds chooses 0..360 longitudes for cells across the antimeridian).
  explicit MapFrame(const std::vector<MapPoint>& points) {
    MapBounds b;
    for (const MapPoint& p : points) b.add(p.lon, p.lat);
    set(b.lon_min(), b.lon_max(), b.lat_min(), b.lat_max(), b.wraps());
  }
  // Around a raster's grid.
  explicit MapFrame(const MapRaster& r) { set(r.lon0(), r.lon1(), r.lat0(), r.lat1(), r.wraps()); }

  // Position in the frame, 0..1 from the west and from the north edge.
  double u(double lon) const { return ((wrap_ ? eastward(lon) : lon) - lon0_) / (lon1_ - lon0_); }
  double v(double lat) const { return (lat1_ - lat) / (lat1_ - lat0_); }
  double x(double lon) const { return kLeft + u(lon) * plot_w_; }
  double y(double lat) const { return kTop + v(lat) * plot_h_; }
  double width() const { return kLeft + plot_w_ + kRight; }
  double height() const { return kTop + plot_h_ + kBottom; }
  double plot_area() const { return plot_w_ * plot_h_; }

  std::string open_svg(const std::string& label) const {
    return fmt::format("<svg width='{:.0f}' height='{:.0f}' viewBox='0 0 {:.0f} {:.0f}' role='img' aria-label='{}'>"
                       "<rect x='{}' y='{}' width='{:.1f}' height='{:.1f}' fill='#f7f7f7' stroke='#bbb'/>",
                       width(), height(), width(), height(), escape(label), kLeft, kTop, plot_w_, plot_h_);
  }
  std::string axes() const;

 private:
  // lon0..lon1 in frame units (0..360 when wrap).
  void set(double lon0, double lon1, double lat0, double lat1, bool wrap) {
    lon0_ = lon0, lon1_ = lon1, lat0_ = lat0, lat1_ = lat1, wrap_ = wrap;
    // A margin of 2% (at least a little) so that edge cells are not cut by the axes.
    const double mlon = std::max(1e-4, 0.02 * (lon1_ - lon0_)), mlat = std::max(1e-4, 0.02 * (lat1_ - lat0_));
    lon0_ -= mlon, lon1_ += mlon, lat0_ -= mlat, lat1_ += mlat;
    kx_ = std::max(0.05, std::cos((lat0_ + lat1_) / 2 * kPi / 180));
    const double w = (lon1_ - lon0_) * kx_, h = lat1_ - lat0_;
    // At most kSide on either side (two maps fit side by side on the page), equal scale on both axes
    // unless the region is a thin strip.
    plot_w_ = kSide, plot_h_ = kSide * h / w;
    if (plot_h_ > kSide) plot_h_ = kSide, plot_w_ = kSide * w / h;
    plot_w_ = std::max(plot_w_, 160.0);
    plot_h_ = std::clamp(plot_h_, 120.0, kSide);
  }
  static double eastward(double lon) { return lon < 0 ? lon + 360 : lon; }
  static constexpr double kSide = 380, kLeft = 56, kRight = 8, kTop = 8, kBottom = 34;
  bool wrap_ = false;  // longitudes in 0..360
  double lon0_, lon1_, lat0_, lat1_, kx_, plot_w_, plot_h_;
};

std::string MapFrame::axes() const {
  std::string svg = "<g font-size='10' fill='#444'>";
  const Ticks lon = nice_ticks(lon0_, lon1_), lat = nice_ticks(lat0_, lat1_);
  for (double v : lon.at) {
    const double px = kLeft + (v - lon0_) / (lon1_ - lon0_) * plot_w_;  // v in frame units (0..360 when wrapped)
    if (v > 180) v -= 360;
    svg += fmt::format("<line x1='{0:.1f}' x2='{0:.1f}' y1='{1:.1f}' y2='{2:.1f}' stroke='#888'/>"
                       "<text x='{0:.1f}' y='{3:.1f}' text-anchor='middle'>{4}</text>",
                       px, kTop + plot_h_, kTop + plot_h_ + 4, kTop + plot_h_ + 15, degrees(v, lon.decimals, 'E', 'W'));
  }
  for (double v : lat.at) {
    const double py = y(v);
    svg += fmt::format("<line x1='{0:.1f}' x2='{1:.1f}' y1='{2:.1f}' y2='{2:.1f}' stroke='#888'/>"
                       "<text x='{3:.1f}' y='{4:.1f}' text-anchor='end'>{5}</text>",
                       kLeft - 4, kLeft, py, kLeft - 6, py + 3.5, degrees(v, lat.decimals, 'N', 'S'));
  }
  svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>longitude</text>", kLeft + plot_w_ / 2,
                     kTop + plot_h_ + 28);
  svg += fmt::format("<text transform='translate(11 {:.1f}) rotate(-90)' text-anchor='middle'>latitude</text></g>",
                     kTop + plot_h_ / 2);
  return svg;
}

// The raster's bins as one image over its grid, each bin the palette entry `index(bin)` (0: none).
template <typename IndexOf>
std::string raster_image(const MapFrame& frame, const MapRaster& r, const std::vector<std::string>& palette,
                         IndexOf index) {
  std::vector<uint8_t> pixels(r.bins());
  for (size_t b = 0; b < r.bins(); ++b) pixels[b] = uint8_t(index(b));
  const double x0 = frame.x(r.lon0()), x1 = frame.x(r.lon1()), y0 = frame.y(r.lat1()), y1 = frame.y(r.lat0());
  return fmt::format("<image x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' preserveAspectRatio='none' "
                     "style='image-rendering:pixelated' href='{}'/>",
                     x0, y0, x1 - x0, y1 - y0, png_data_uri(r.cols(), r.rows(), palette, pixels));
}

std::string level_raster_svg(const RegionReport& region, int levels) {
  const MapRaster& r = *region.raster;
  const MapFrame frame(r);
  std::vector<std::string> palette = {""};
  for (int k = 1; k <= levels; ++k) palette.push_back(level_color(k, levels));
  return frame.open_svg(fmt::format("map of {}: majority level of the cells in each of {} x {} bins", region.name,
                                    r.cols(), r.rows())) +
         raster_image(frame, r, palette, [&](size_t b) { return r.majority_level(b); }) + frame.axes() + "</svg>";
}

std::string bivariate_raster_svg(const RegionReport& region) {
  const MapRaster& r = *region.raster;
  const MapFrame frame(r);
  std::vector<std::string> palette = {""};
  for (int c = 0; c < kRasterNoRisk; ++c) palette.push_back(kBivariateColors[c / kBivariateBins][c % kBivariateBins]);
  palette.push_back("#ffffff");  // rated cells without a hazard value
  return frame.open_svg(fmt::format("map of {}: hazard risk against resilience level, majority in each of {} x {} bins",
                                    region.name, r.cols(), r.rows())) +
         raster_image(frame, r, palette, [&](size_t b) { return r.majority_bivariate(b) + 1; }) + frame.axes() +
         "</svg>";
}

// Dot diameter from the density of the cells where there are cells (a 48 x 48 grid of the plot
// counts the occupied area), so that neighbours about touch whether the cells fill the frame or sit
// in a few far-apart regions; within 1.5..10 px.
double dot_width(const MapFrame& frame, const std::vector<MapPoint>& points) {
  constexpr int kGrid = 48;
  std::vector<char> occupied(kGrid * kGrid, 0);
  for (const MapPoint& p : points) {
    const int gx = std::clamp(int(frame.u(p.lon) * kGrid), 0, kGrid - 1), gy = std::clamp(int(frame.v(p.lat) * kGrid), 0, kGrid - 1);
    occupied[gy * kGrid + gx] = 1;
  }
  const double share = double(std::count(occupied.begin(), occupied.end(), 1)) / double(kGrid * kGrid);
  return std::clamp(std::sqrt(frame.plot_area() * share / double(std::max<size_t>(1, points.size()))) * 0.9, 1.5, 10.0);
}

// Appends a cell to a path of dots (one "M x y h0" each).
void add_dot(std::string& d, const MapFrame& frame, const MapPoint& p) {
  d += fmt::format("M{:.1f} {:.1f}h0", frame.x(p.lon), frame.y(p.lat));
}

std::string dot_path(const std::string& d, const std::string& color, double width) {
  if (d.empty()) return "";
  return fmt::format("<path d='{}' stroke='{}' stroke-width='{:.1f}' stroke-linecap='round' fill='none'/>", d, color,
                     width);
}

}  // namespace

std::string level_map_svg(const RegionReport& region, int levels) {
  if (region.raster) return level_raster_svg(region, levels);
  if (region.map.empty()) return "<p class=note>No cells to draw.</p>";
  const MapFrame frame(region.map);
  const double w = dot_width(frame, region.map);
  // Priority cells on top, each on a black disc a little larger than itself: a ring.
  std::vector<std::string> plain(levels + 1), priority(levels + 1);
  std::string rings;
  for (const MapPoint& p : region.map) {
    add_dot(p.priority ? priority[p.level] : plain[p.level], frame, p);
    if (p.priority) add_dot(rings, frame, p);
  }
  std::string svg = frame.open_svg("map of " + region.name + ": level of each sampled cell");
  for (int k = 1; k <= levels; ++k) svg += dot_path(plain[k], level_color(k, levels), w);
  svg += dot_path(rings, "#000", w + std::clamp(w * 0.5, 1.0, 3.0));
  for (int k = 1; k <= levels; ++k) svg += dot_path(priority[k], level_color(k, levels), w);
  return svg + frame.axes() + "</svg>";
}

std::string level_legend_html(int levels, bool with_priority) {
  std::string html = "<div class=legend>";
  for (int k = 1; k <= levels; ++k)
    html += fmt::format("<span class=item><span class=sw style='background:{}'></span>level {}</span>",
                        level_color(k, levels), escape(level_name(k, levels)));
  html += "</div>";
  if (with_priority)
    html += fmt::format("<div class=legend><span class=ring></span>ringed: a <b>priority cell</b>, hazard risk "
                        "class {}-{} (the top two of {} quantile classes over all cells) at level 1-2 (the bottom "
                        "two).</div>",
                        kRiskClasses - 1, kRiskClasses, kRiskClasses);
  return html;
}

std::string bivariate_map_svg(const RegionReport& region, int levels) {
  if (region.raster) return bivariate_raster_svg(region);
  if (region.map.empty()) return "<p class=note>No cells to draw.</p>";
  const MapFrame frame(region.map);
  const double w = dot_width(frame, region.map);
  std::string bins[kBivariateBins][kBivariateBins], none;
  for (const MapPoint& p : region.map) {
    const int rb = risk_bin(p.risk);
    add_dot(rb < 0 ? none : bins[resilience_bin(p.level, levels)][rb], frame, p);
  }
  std::string svg = frame.open_svg("map of " + region.name + ": hazard risk against resilience level");
  svg += dot_path(none, "#ffffff", w * 0.6);
  // The priority bin (high risk, low resilience) last, on top.
  for (int r = kBivariateBins - 1; r >= 0; --r)
    for (int c = 0; c < kBivariateBins; ++c) svg += dot_path(bins[r][c], kBivariateColors[r][c], w);
  return svg + frame.axes() + "</svg>";
}

std::string bivariate_legend_html(const BivariateCounts& counts, int levels) {
  uint64_t total = 0;
  for (const auto& row : counts)
    for (uint64_t c : row) total += c;
  std::string html = "<table class=legend><tr><th class=l>resilience &uarr; / hazard risk &rarr;</th>";
  for (int c = 0; c < kBivariateBins; ++c) html += fmt::format("<th>{}</th>", escape(risk_bin_label(c)));
  html += "</tr>";
  for (int r = kBivariateBins - 1; r >= 0; --r) {
    html += fmt::format("<tr><th class=l>{}</th>", escape(resilience_bin_label(r, levels)));
    for (int c = 0; c < kBivariateBins; ++c) {
      const bool priority = r == 0 && c == kBivariateBins - 1;
      html += fmt::format("<td style='background:{};color:{}'>{}<br>{}{}</td>", kBivariateColors[r][c],
                          text_color(kBivariateColors[r][c]), counts[r][c], percent(counts[r][c], total),
                          priority ? "<br><b>= priority</b>" : "");
    }
    html += "</tr>";
  }
  return html + "</table><div class=legend>Cells with a risk class, by bin; white on the map: no hazard value.</div>";
}

std::string line_chart_svg(const TrainingCurve& curve) {
  constexpr double left = 56, right = 10, top = 20, bottom = 30, plot_w = 250, plot_h = 120;
  if (curve.points.empty()) return "";
  double x0 = curve.points.front().first, x1 = curve.points.back().first;
  double y0 = curve.points[0].second, y1 = y0;
  for (const auto& [x, y] : curve.points) y0 = std::min(y0, y), y1 = std::max(y1, y);
  // Losses fall over decades: a log axis when every value is positive and they span more than 10x.
  const bool log_y = y0 > 0 && y1 / y0 > 10;
  const auto ty = [&](double v) { return log_y ? std::log10(v) : v; };
  double ly0 = ty(y0), ly1 = ty(y1);
  if (ly1 - ly0 < 1e-12) ly0 -= 0.5, ly1 += 0.5;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  const auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * plot_w; };
  const auto py = [&](double y) { return top + (ly1 - ty(y)) / (ly1 - ly0) * plot_h; };
  std::string svg = fmt::format("<svg width='{0:.0f}' height='{1:.0f}' viewBox='0 0 {0:.0f} {1:.0f}' role='img' "
                                "aria-label='{2}'><text x='{3}' y='12' font-size='11' font-weight='bold'>{2}{4}</text>"
                                "<rect x='{3}' y='{5}' width='{6}' height='{7}' fill='#fafafa' stroke='#bbb'/>"
                                "<g font-size='10' fill='#444'>",
                                left + plot_w + right, top + plot_h + bottom,
                                escape(curve.stage + ": " + curve.y + " by " + curve.x), left,
                                log_y ? " (log scale)" : "", top, plot_w, plot_h);
  const Ticks xt = nice_ticks(x0, x1, 4);
  for (double v : xt.at)
    svg += fmt::format("<line x1='{0:.1f}' x2='{0:.1f}' y1='{1}' y2='{2}' stroke='#888'/>"
                       "<text x='{0:.1f}' y='{3}' text-anchor='middle'>{4:.{5}f}</text>",
                       px(v), top + plot_h, top + plot_h + 4, top + plot_h + 15, v, xt.decimals);
  const Ticks yt = nice_ticks(ly0, ly1, 4);
  for (double v : yt.at) {
    const double value = log_y ? std::pow(10.0, v) : v;
    svg += fmt::format("<line x1='{0}' x2='{1}' y1='{2:.1f}' y2='{2:.1f}' stroke='#888'/>"
                       "<text x='{3}' y='{4:.1f}' text-anchor='end'>{5}</text>",
                       left - 4, left, py(value), left - 6, py(value) + 3.5,
                       log_y ? fmt::format("{:.2g}", value) : fmt::format("{:.{}f}", value, yt.decimals));
  }
  svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>{}</text></g>", left + plot_w / 2,
                     top + plot_h + 27, escape(curve.x));
  std::string points;
  for (const auto& [x, y] : curve.points) points += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
  svg += fmt::format("<polyline points='{}' fill='none' stroke='#3182bd' stroke-width='1.5'/>", points);
  if (curve.points.size() <= 30)
    for (const auto& [x, y] : curve.points)
      svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='2' fill='#3182bd'/>", px(x), py(y));
  return svg + "</svg>";
}

}  // namespace resilinet::report_page
