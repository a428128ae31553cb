// One region's section of report.html, or all regions together (trainer/report/report_html_parts.hpp):
// the level map and the risk x resilience map, level sizes, the hazard classes against the levels,
// the feature profile per level and the priority cells with their CSV.
#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

constexpr size_t kPriorityPreviewRows = 10;

// This region's entry of metrics.json's evaluation.regions, or null.
const json* region_metrics(const json& metrics, const std::string& name) {
  if (!metrics.is_object() || !metrics.contains("evaluation") || !metrics["evaluation"].contains("regions")) return nullptr;
  for (const json& r : metrics["evaluation"]["regions"])
    if (r.value("name", "") == name) return &r;
  return nullptr;
}

std::string file_slug(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "region" : out;
}

std::string hazard_unit(const Report& report) {
  return report.hazard_unit.empty() ? "in the units of /hazard (the shards do not record them; "
                                      "<code>report --hazard-unit</code> names them)"
                                    : "in " + escape(report.hazard_unit);
}

void level_sizes(Page& page, const Report& report, const RegionReport& g, const json& metrics) {
  const int K = report.levels;
  page << "<table><tr><th>level</th><th>cells</th><th>share</th><th class=l></th></tr>";
  for (int k = 0; k < K; ++k) {
    const double share = g.cells ? double(g.level_cells[k]) / double(g.cells) : 0.0;
    page << fmt::format("<tr><td class=l><span class=sw style='background:{0}'></span>{1}</td><td>{2}</td><td>{3}</td>"
                        "<td class=l><div class=bar style='width:{4:.0f}px;background:{0}'></div></td></tr>",
                        level_color(k + 1, K), escape(level_name(k + 1, K)), g.level_cells[k],
                        percent(g.level_cells[k], g.cells), 250 * share);
  }
  if (g.not_rated)
    page << fmt::format("<tr><td class=l>not rated</td><td>{}</td><td>{}</td><td class=l>values too extreme to "
                        "rate finitely</td></tr>",
                        g.not_rated, percent(g.not_rated, g.cells));
  page << fmt::format("<tr><th class=l>total</th><th>{}</th><th>100%</th><th></th></tr></table>", g.cells);
  if (const json* m = region_metrics(metrics, g.name)) {
    page << fmt::format("<p>The classifier head on this region's {} held-out cells: accuracy <b>{}</b>, macro-F1 "
                        "<b>{}</b> (against the cluster levels)",
                        number(m->value("holdout_cells", json())), number(m->value("classifier_accuracy", json())),
                        number(m->value("classifier_macro_f1", json())));
    if (m->contains("ari_planted"))
      page << fmt::format("; agreement with the planted levels (ARI) <b>{}</b>", number((*m)["ari_planted"]));
    page << ".</p>";
  }
}

void hazard_cuts_table(Page& page, const Report& report) {
  const auto& cuts = report.hazard_cuts;
  page << fmt::format("<p>Risk classes are the quintiles of the hazard over all cells of all regions, {}:</p>"
                      "<table><tr><th>risk class</th><th>hazard from</th><th>to below</th></tr>",
                      hazard_unit(report));
  for (int c = 0; c < kRiskClasses; ++c)
    page << fmt::format("<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>", c + 1,
                        c == 0 ? " lowest" : c == kRiskClasses - 1 ? " highest" : "",
                        c == 0 ? number(report.hazard_min) + " (min)" : number(cuts[c - 1]),
                        c == kRiskClasses - 1 ? number(report.hazard_max) + " (max, included)" : number(cuts[c]));
  page << "</table>";
}

void risk_table(Page& page, const Report& report, const RegionReport& g) {
  const int K = report.levels;
  uint64_t with_risk = 0;
  page << "<table><tr><th>risk class \\ level</th>";
  for (int k = 0; k < K; ++k) page << fmt::format("<th>{}</th>", k + 1);
  page << "</tr>";
  for (int c = kRiskClasses - 1; c >= 0; --c) {
    page << fmt::format("<tr><th>{}{}</th>", c + 1, c == kRiskClasses - 1 ? " (highest)" : c == 0 ? " (lowest)" : "");
    for (int k = 0; k < K; ++k) {
      with_risk += g.risk_levels[c][k];
      page << fmt::format("<td{}>{}</td>", is_priority(c + 1, k + 1) ? " class=prio" : "", g.risk_levels[c][k]);
    }
    page << "</tr>";
  }
  page << fmt::format("</table><p>{} cells have a risk class ({} have no hazard value or are not rated). Priority "
                      "cells (risk classes {}-{} at levels 1-2, shaded): <b>{}</b>, {} of the cells.</p>",
                      with_risk, g.cells - with_risk, kRiskClasses - 1, kRiskClasses, g.priority_cells,
                      percent(g.priority_cells, g.cells));
}

// Mean over the section's rated cells of a per-level value (levels weighted by their cells).
double all_levels_mean(const RegionReport& g, const std::vector<double>& by_level) {
  double sum = 0, cells = 0;
  for (size_t k = 0; k < by_level.size(); ++k)
    if (g.level_cells[k] > 0) sum += by_level[k] * double(g.level_cells[k]), cells += double(g.level_cells[k]);
  return cells > 0 ? sum / cells : std::nan("");
}

// One heat row: each level coloured by its distance from the all-levels mean, over `range`.
std::string heat_cells(const RegionReport& g, const std::vector<double>& by_level, double range,
                       const std::vector<std::string>& titles) {
  const double mean = all_levels_mean(g, by_level);
  std::string html;
  for (size_t k = 0; k < by_level.size(); ++k)
    html += shaded_cell(std::isfinite(by_level[k]) ? fmt::format("{:.2f}", by_level[k]) : "-",
                        diverging_color((by_level[k] - mean) / range), titles.empty() ? "" : titles[k]);
  return html + (std::isfinite(mean) ? fmt::format("<td>{:.2f}</td>", mean) : "<td>-</td>");
}

void feature_profile(Page& page, const Report& report, const RegionReport& g) {
  const int K = report.levels;
  const Schema& schema = report.schema;
  const size_t F = schema.size();
  const ProfileGroups components = profile_by_component(schema, g.profile);
  const ProfileGroups systems = profile_by_system(schema, g.profile);
  const std::vector<double> scores = profile_scores(schema, g.profile, report.config.level_order);
  const auto column = [&](const std::vector<std::vector<double>>& by_level, size_t i) {
    std::vector<double> out;
    for (int k = 0; k < K; ++k) out.push_back(by_level[k][i]);
    return out;
  };
  // One colour range for the whole table, so that shades compare across features.
  double range = 1e-9;
  for (size_t f = 0; f < F; ++f) {
    const std::vector<double> v = column(g.profile, f);
    const double mean = all_levels_mean(g, v);
    for (double x : v)
      if (std::isfinite(x) && std::isfinite(mean)) range = std::max(range, std::abs(x - mean));
  }
  page << "<p>Each cell: the mean over the level's cells of the feature scaled with the checkpoint's scaler "
          "(missing values imputed with the training median, as the model sees them), signed by the feature's "
          "direction so that <b>higher is more resilient</b> for every feature. Blue: above this section's mean "
          "(last column), red: below. Hover a cell for the mean in the feature's own unit.</p>";
  page << "<table><tr><th class=l>system</th><th class=l>component</th><th class=l>feature (unit, direction)</th>";
  for (int k = 1; k <= K; ++k) page << fmt::format("<th>level {}</th>", k);
  page << "<th>all</th></tr>";
  for (const std::string& system : systems.names) {
    std::vector<size_t> rows;
    for (const std::string& component : known_components())
      for (size_t f = 0; f < F; ++f)
        if (schema.features[f].system == system && schema.features[f].component == component) rows.push_back(f);
    for (size_t f = 0; f < F; ++f)  // components the method does not know, after the known ones
      if (schema.features[f].system == system && std::find(rows.begin(), rows.end(), f) == rows.end()) rows.push_back(f);
    for (size_t i = 0; i < rows.size(); ++i) {
      const FeatureSpec& spec = schema.features[rows[i]];
      std::vector<std::string> titles;
      for (int k = 0; k < K; ++k)
        titles.push_back(fmt::format("raw mean {} {}", number(g.raw_means[k][rows[i]]), spec.unit));
      page << "<tr>";
      if (i == 0) page << fmt::format("<th class=l rowspan={}>{}</th>", rows.size(), escape(system));
      page << fmt::format("<td class=l>{}</td><td class=l>{} ({}, {})</td>", escape(spec.component), escape(spec.name),
                          escape(spec.unit.empty() ? "no unit" : spec.unit),
                          spec.direction > 0 ? "more is more resilient" : "less is more resilient; sign flipped");
      page << heat_cells(g, column(g.profile, rows[i]), range, titles) << "</tr>";
    }
  }
  for (size_t c = 0; c < components.names.size(); ++c)
    page << fmt::format("<tr><th class=l colspan=3>component mean: {}</th>", escape(components.names[c]))
         << heat_cells(g, column(components.means, c), range, {}) << "</tr>";
  page << "<tr><th class=l colspan=3>score (mean of the component means: the rule that orders the levels)</th>"
       << heat_cells(g, scores, range, {}) << "</tr></table>";
}

void priority_cells(Page& page, const Report& report, const RegionReport& g, int index) {
  const bool all = index < 0;
  size_t rows = 0;
  for (const PriorityCell& c : report.priority) rows += all || c.region == uint32_t(index);
  const bool capped = report.all.priority_cells > report.priority.size();
  page << fmt::format("<p><b>{}</b> priority cells (risk class {}-{} at level 1-2). ", g.priority_cells,
                      kRiskClasses - 1, kRiskClasses);
  if (capped)
    page << fmt::format("The list holds the {} priority cells of highest hazard over all regions (capped at {} rows, "
                        "<code>report --priority-rows</code>), {} of them here. ",
                        report.priority.size(), report.priority_cap, rows);
  else
    page << "The list holds every one of them. ";
  if (rows == 0) {
    page << "</p>";
    return;
  }
  page << fmt::format("<a download='priority_cells_{}.csv' href='{}'>Download the list as CSV ({} rows)</a>.</p>",
                      all ? "all_regions" : escape(file_slug(g.name)), data_uri("text/csv", priority_csv(report, index)),
                      rows);
  page << "<table><tr>";
  for (const char* column : kPriorityColumns) page << fmt::format("<th>{}</th>", column);
  page << "</tr>";
  size_t shown = 0;
  for (const PriorityCell& c : report.priority) {
    if (!all && c.region != uint32_t(index)) continue;
    if (shown++ == kPriorityPreviewRows) break;
    page << fmt::format("<tr><td>{}</td><td class=l>{}</td><td>{:.4f}</td><td>{:.4f}</td><td>{}</td><td>{}</td>"
                        "<td>{}</td></tr>",
                        c.cell_id, escape(report.regions[c.region].name), c.lon, c.lat, c.level, number(c.hazard), c.risk);
  }
  page << fmt::format("</table><p class=note>The first {} rows, highest hazard first.</p>",
                      std::min(rows, kPriorityPreviewRows));
}

}  // namespace

void region_section(Page& page, const Report& report, int index, const ReportInputs& inputs) {
  const RegionReport& g = index < 0 ? report.all : report.regions[size_t(index)];
  const std::string id = index < 0 ? "all-regions" : fmt::format("region-{}", index + 1);
  const int K = report.levels;
  // Risk classes need the hazard column and at least one finite value in it (the cuts).
  const bool with_risk = !g.risk_levels.empty() && !report.hazard_cuts.empty();
  page.open(id, index < 0 ? "All regions" : "Region " + g.name);
  page << fmt::format("<p>{} cells{}, rated on {} levels{}.</p>", g.cells,
                      index < 0 ? fmt::format(" in {} region(s)", report.regions.size()) : "", K,
                      with_risk ? fmt::format("; {} priority cells ({})", g.priority_cells, percent(g.priority_cells, g.cells))
                                : "");

  page << "<div class=row>";
  page.open(id + "-map", "Level map", 3);
  if (g.raster)
    page << fmt::format("<p class=note>Every rated cell, binned on a grid of {} x {} bins over the cells' longitude "
                        "and latitude; each bin shows the level most of its cells have (ties: the lower level). "
                        "Priority cells are not ringed here: see the risk map and the list.</p>",
                        g.raster->cols(), g.raster->rows());
  else
    page << fmt::format("<p class=note>A deterministic sample of {} of the cells (by hashed cell id), at their "
                        "longitude and latitude.</p>",
                        g.map.size());
  page << level_map_svg(g, K) << level_legend_html(K, with_risk && !g.raster);
  page.close();
  if (with_risk) {
    page.open(id + "-bivariate", "Hazard risk x resilience map", 3);
    page << (g.raster ? "<p class=note>The same bins, each coloured by the risk class x level bin most of its cells "
                        "fall in (ties: the lower resilience, then the lower risk); the strongest red is the priority "
                        "rule.</p>"
                      : "<p class=note>The same cells, coloured by risk class against level; the strongest red is "
                        "the priority rule.</p>")
         << bivariate_map_svg(g, K) << bivariate_legend_html(bivariate_counts(g, K), K);
    page.close();
  }
  page << "</div>";

  page.open(id + "-levels", "Level sizes", 3);
  // The run's own scores per region; all regions' are in the evaluation section.
  level_sizes(page, report, g, index < 0 ? json() : inputs.metrics);
  page.close();

  page.open(id + "-hazard", "Hazard risk by level", 3);
  if (with_risk) {
    risk_table(page, report, g);
    hazard_cuts_table(page, report);
  } else {
    page << "<p class=note>The data has no hazard column with finite values: no risk classes, no priority cells.</p>";
  }
  page.close();

  page.open(id + "-profile", "Feature profile by level", 3);
  feature_profile(page, report, g);
  page.close();

  if (with_risk) {
    page.open(id + "-priority", "Priority cells", 3);
    priority_cells(page, report, g, index);
    page.close();
  }
  page.close();
}

}  // namespace resilinet::report_page
