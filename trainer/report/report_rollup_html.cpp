// The roll-ups section of report.html (trainer/report/report_html_parts.hpp): the levels of the
// cells of every unit of each grouping of the data (district, county, tract) and of every region,
// weighted by cells and, where the data has a population column, by residents.
#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

// Units listed per kind on the page; all of them are in report.json and the CSV link.
constexpr size_t kRowsShown = 200;

// A bar of the level shares: one coloured span per level, as wide as its share.
std::string share_bar(const json& shares, int levels) {
  std::string bar = "<span class=bar style='display:inline-flex;width:160px;height:10px'>";
  for (int k = 0; k < levels && k < int(shares.size()); ++k)
    if (shares[size_t(k)].is_number() && shares[size_t(k)].get<double>() > 0)
      bar += fmt::format("<span title='level {}: {}' style='width:{:.1f}%;background:{}'></span>", k + 1,
                         percent(shares[size_t(k)].get<double>()), 100 * shares[size_t(k)].get<double>(),
                         level_color(k + 1, levels));
  return bar + "</span>";
}

}  // namespace

void rollup_section(Page& page, const Report& report) {
  const json& r = report.rollups;
  if (r.is_null() || !r.contains("kinds")) return;
  const int K = report.levels;
  const bool population = r.value("has_population", false);
  page.open("rollups", "Levels of larger units");
  page << "<p>Each unit's cells by level: the share of cells at each level, and the mean level, weighted by "
          "cells"
       << (population ? " and by residents (the data's population column)" : "")
       << ". Regions, then each grouping of the data. "
       << fmt::format("<a download='rollup.csv' href='{}'>Download all units (CSV)</a>.</p>",
                      data_uri("text/csv", report.rollup_csv));
  for (const json& kind : r["kinds"]) {
    const std::string name = kind["kind"].get<std::string>();
    page.open("rollup-" + name, (name == "region" ? std::string("Regions") : "Grouping: " + name), 3);
    size_t shown = 0, total = 0;
    page << "<table><tr><th class=l>unit</th><th>cells</th>" << (population ? "<th>residents</th>" : "")
         << "<th class=l>share of cells by level</th><th>mean level (cells)</th>"
         << (population ? "<th>mean level (residents)</th>" : "") << "</tr>";
    for (const json& u : r["units"]) {
      if (u["kind"].get<std::string>() != name) continue;
      ++total;
      if (shown == kRowsShown) continue;
      ++shown;
      page << fmt::format("<tr><td class=l>{}</td><td>{}</td>", escape(u["unit"].get<std::string>()), number(u["cells"]));
      if (population) page << fmt::format("<td>{}</td>", number(u.value("population", json())));
      page << fmt::format("<td class=l>{}</td><td>{}</td>", share_bar(u["share_cells"], K),
                          number(u.value("mean_level_cells", json())));
      if (population) page << fmt::format("<td>{}</td>", number(u.value("mean_level_population", json())));
      page << "</tr>";
    }
    page << "</table>";
    if (total > shown)
      page << fmt::format("<p class=note>The first {} of {} units (in the data's order); all are in the CSV link and "
                          "report.json.</p>",
                          shown, total);
    page.close();
  }
  page.close();
}

}  // namespace resilinet::report_page
