// The pieces report.html is assembled from (report_html.cpp puts them in order): text and colour
// helpers (report_html_format.cpp), SVG charts (report_svg.cpp) and the sections, one file per
// concern (report_region_html.cpp, report_explain_html.cpp, report_evidence_html.cpp,
// report_rollup_html.cpp, report_scenarios_html.cpp, report_variants_html.cpp,
// report_provenance_html.cpp) and the raster maps' images (png_image.cpp). Internal to
// trainer/report/: nothing here is an interface of the room.
#pragma once
#include "trainer/report/room.hpp"
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/report/report.hpp"
#include "trainer/report/report_views.hpp"

namespace resilinet::report_page {

// The page under construction: its HTML and the ids of its sections, in order. Sections opened at
// depth 2 appear in the table of contents.
class Page {
 public:
  void open(const std::string& id, const std::string& heading, int depth = 2);
  void close();
  Page& operator<<(const std::string& html) {
    body_ += html;
    return *this;
  }
  const std::vector<std::string>& ids() const { return ids_; }
  // The finished page: head, title block, table of contents and body.
  std::string html(const std::string& intro) const;

 private:
  std::string body_;
  std::vector<std::string> ids_;
  std::vector<std::pair<std::string, std::string>> contents_;  // id, heading
  int open_ = 0;
};

// --- text and colour (report_html_format.cpp) ---
std::string escape(const std::string& s);
std::string number(double v);            // 3 significant digits (integers whole); "-" for NaN
std::string number(const nlohmann::json& v);  // a JSON number as above; "-" for null or anything else
std::string percent(uint64_t part, uint64_t whole);
std::string percent(double share);       // 0.123 -> "12.3%"
std::string level_color(int level, int levels);  // level 1 red .. level K blue
std::string level_name(int level, int levels);   // "1 very low" .. "5 very high"
// t in [-1, 1]: red (-1) through white to blue (+1); NaN: grey.
std::string diverging_color(double t);
// t in [0, 1]: white to blue.
std::string sequential_color(double t);
// Black or white, whichever reads better on a "#rrggbb" background.
std::string text_color(const std::string& background);
// <td> shaded with `color`, showing `text`, with a tooltip when `title` is not empty.
std::string shaded_cell(const std::string& text, const std::string& color, const std::string& title = "");
// A square table of counts (rows x columns, numbered from 1), each row shaded by its own shares;
// the diagonal (agreement) in bold.
void count_table(Page& page, const nlohmann::json& rows, const std::string& row_label, const std::string& col_label);
// A data: URI holding text (percent-encoded), for a download link with no file beside the page.
std::string data_uri(const std::string& mime, const std::string& text);

// --- SVG charts (report_svg.cpp) ---
inline constexpr const char* kBivariateColors[kBivariateBins][kBivariateBins] = {
    // [resilience bin][risk bin]: rows low..high resilience, columns low..high risk (Stevens'
    // 3 x 3 scheme, so that high risk at low resilience is the strongest red).
    {"#e8e8e8", "#e4acac", "#c85a5a"},
    {"#b0d5df", "#ad9ea5", "#985356"},
    {"#64acbe", "#627f8c", "#574249"}};
// Cells at their lon/lat with degree ticks; priority cells ringed. Nothing when there are no cells.
// A region with a raster (RegionReport::raster) is drawn as an image of its bins, each in the colour
// of its majority level (majority class on the risk x resilience map), with no rings.
std::string level_map_svg(const RegionReport& region, int levels);
std::string level_legend_html(int levels, bool with_priority);
// Cells coloured by the 3 x 3 bin of risk class x level (kBivariateColors).
std::string bivariate_map_svg(const RegionReport& region, int levels);
std::string bivariate_legend_html(const BivariateCounts& counts, int levels);
std::string line_chart_svg(const TrainingCurve& curve);

// --- images (png_image.cpp) ---
// An 8-bit palette PNG of width x height pixels, row 0 at the top, as a data: URI. palette: "#rrggbb"
// colours, "" for a transparent entry; pixels: indices into it.
std::string png_data_uri(int width, int height, const std::vector<std::string>& palette,
                         const std::vector<uint8_t>& pixels);

// --- sections ---
// A region (index >= 0) or all regions (index -1): maps, level sizes, hazard, profile, priority cells.
void region_section(Page& page, const Report& report, int index, const ReportInputs& inputs);
// Levels rolled up to the units of each grouping (and regions): report_rollup_html.cpp.
void rollup_section(Page& page, const Report& report);
void explanation_sections(Page& page, const Report& report, const nlohmann::json& explanations);
void evidence_sections(Page& page, const Report& report, const nlohmann::json& metrics,
                       const nlohmann::json& training_log);
// `resilinet scenario`'s summary (report_scenarios_html.cpp): nothing when it is null.
void scenarios_section(Page& page, const nlohmann::json& scenarios);
// `resilinet bench --variants`'s table (report_variants_html.cpp): nothing when it is null.
void variants_section(Page& page, const nlohmann::json& variants);
void provenance_section(Page& page, const Report& report, const ReportInputs& inputs);
// The method's limits, in words the page repeats where they matter.
inline constexpr const char* kLimitRelative =
    "Levels are relative to the training data: level 1 is the least resilient group among the cells this "
    "model was trained on, not a fixed standard, and a model trained on other data draws other lines.";
inline constexpr const char* kLimitExternal =
    "Agreement with an outside index is not outcome validation: both may share the same blind spots, and "
    "neither was checked against observed losses or recovery.";

}  // namespace resilinet::report_page
