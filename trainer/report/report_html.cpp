// The HTML page of `resilinet report`: one file with inline CSS and SVG (no scripts, no external
// resources), so it can be mailed or archived with a run.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trainer/report/report.hpp"

namespace resilinet {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Level 1 (very low resilience) red through yellow to level K (very high) blue.
std::string level_color(int level, int levels) {
  static const int stops[5][3] = {{215, 48, 39}, {252, 141, 89}, {254, 224, 144}, {145, 191, 219}, {69, 117, 180}};
  const double t = levels > 1 ? double(level - 1) / double(levels - 1) * 4.0 : 0.0;
  const int i = std::min(3, int(t));
  const double u = t - i;
  int rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = int(std::lround(stops[i][c] * (1 - u) + stops[i + 1][c] * u));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? fmt::format("{:.1f}%", 100.0 * double(part) / double(whole)) : "-";
}

std::string level_table(const RegionReport& g, int levels) {
  std::string html = "<table><tr><th>level</th><th>cells</th><th>share</th><th></th></tr>";
  for (int k = 0; k < levels; ++k) {
    const double share = g.cells ? double(g.level_cells[k]) / double(g.cells) : 0.0;
    html += fmt::format("<tr><td><span class=sw style='background:{}'></span>{}</td><td>{}</td><td>{}</td>"
                        "<td><div class=bar style='width:{:.0f}px;background:{}'></div></td></tr>",
                        level_color(k + 1, levels), k + 1, g.level_cells[k], percent(g.level_cells[k], g.cells),
                        200 * share, level_color(k + 1, levels));
  }
  html += "</table>";
  return html;
}

// Cells as dots at their lon/lat (equirectangular, x scaled by cos(latitude)); priority cells ringed.
std::string map_svg(const RegionReport& g, int levels) {
  if (g.map.empty()) return "<p>no cells</p>";
  double lon0 = g.map[0].lon, lon1 = lon0, lat0 = g.map[0].lat, lat1 = lat0;
  for (const MapPoint& p : g.map) {
    lon0 = std::min(lon0, p.lon), lon1 = std::max(lon1, p.lon);
    lat0 = std::min(lat0, p.lat), lat1 = std::max(lat1, p.lat);
  }
  const double kx = std::cos((lat0 + lat1) / 2 * 3.14159265358979 / 180);
  const double w = std::max(1e-9, (lon1 - lon0) * kx), h = std::max(1e-9, lat1 - lat0);
  const double width = 480, height = std::clamp(width * h / w, 120.0, 600.0), pad = 6;
  const double sx = (width - 2 * pad) / w, sy = (height - 2 * pad) / h;
  const double r = std::clamp(std::sqrt(width * height / double(g.map.size())) * 0.45, 1.0, 6.0);
  std::string svg = fmt::format("<svg width='{:.0f}' height='{:.0f}' viewBox='0 0 {:.0f} {:.0f}' role='img'>"
                                "<rect width='100%' height='100%' fill='#f7f7f7'/>",
                                width, height, width, height);
  for (int pass = 0; pass < 2; ++pass)  // priority cells last, on top
    for (const MapPoint& p : g.map) {
      if (p.priority != (pass == 1)) continue;
      svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='{:.1f}' fill='{}'{}/>", pad + (p.lon - lon0) * kx * sx,
                         height - pad - (p.lat - lat0) * sy, r, level_color(p.level, levels),
                         p.priority ? " stroke='#000' stroke-width='1'" : "");
    }
  svg += "</svg>";
  return svg;
}

std::string risk_table(const RegionReport& g, int levels) {
  std::string html = "<table><tr><th>risk class \\ level</th>";
  for (int k = 0; k < levels; ++k) html += fmt::format("<th>{}</th>", k + 1);
  html += "</tr>";
  for (int c = kRiskClasses - 1; c >= 0; --c) {
    html += fmt::format("<tr><th>{}{}</th>", c + 1, c == kRiskClasses - 1 ? " (highest)" : c == 0 ? " (lowest)" : "");
    for (int k = 0; k < levels; ++k) {
      const bool priority = c >= kRiskClasses - 2 && k < 2;
      html += fmt::format("<td{}>{}</td>", priority ? " class=prio" : "", g.risk_levels[c][k]);
    }
    html += "</tr>";
  }
  return html + fmt::format("</table><p>Priority cells (risk classes 4-5 at levels 1-2, shaded): "
                            "<b>{}</b> ({} of the region).</p>",
                            g.priority_cells, percent(g.priority_cells, g.cells));
}

std::string number(double v) {
  if (std::isnan(v)) return "-";
  return std::abs(v) >= 1000 || v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
}

std::string metric(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? number(j[key].get<double>()) : "-";
}

// How reproducible the levels are (agreement between the restarts of the clustering) and what the
// deep model adds over the built-in k-means baseline.
std::string method_section(const nlohmann::json& metrics) {
  std::string html;
  if (metrics.contains("clusters") && metrics["clusters"].is_object()) {
    const auto& c = metrics["clusters"];
    html += fmt::format("<h2>Reproducibility</h2><p>The clustering ran {} restarts (k-means on parts of a sample of "
                        "{} cells, in the {} space) and kept the one that agrees best with the others. Agreement "
                        "between restarts (adjusted Rand index, 1 = identical): mean <b>{}</b>, lowest {}.</p>",
                        metric(c, "restarts"), metric(c, "sample_cells"), escape(c.value("space", "?")),
                        metric(c, "restart_ari_mean"), metric(c, "restart_ari_min"));
    for (const auto& w : c.value("warnings", nlohmann::json::array()))
      if (w.is_string()) html += fmt::format("<p class=prio>Warning: {}</p>", escape(w.get<std::string>()));
  }
  if (metrics.contains("evaluation") && metrics["evaluation"].contains("baseline_kmeans")) {
    const auto& e = metrics["evaluation"];
    const auto& b = e["baseline_kmeans"];
    html += "<h2>Against the k-means baseline</h2><p>Every run also rates the cells with k-means on the scaled "
            "features, with the same number of levels and the same ordering rule.</p><table>"
            "<tr><th></th><th>model</th><th>k-means baseline</th></tr>";
    html += fmt::format("<tr><th>agreement with each other (ARI)</th><td colspan=2>{}</td></tr>", metric(b, "ari_model"));
    if (b.contains("ari_planted"))
      html += fmt::format("<tr><th>ARI against the planted levels</th><td>{}</td><td>{}</td></tr>",
                          metric(e, "ari_planted"), metric(b, "ari_planted"));
    if (b.contains("ari_external")) {
      html += fmt::format("<tr><th>ARI against the external rating</th><td>{}</td><td>{}</td></tr>",
                          metric(e, "ari_external"), metric(b, "ari_external"));
      html += fmt::format("<tr><th>weighted kappa against the external rating</th><td>{}</td><td>{}</td></tr>",
                          metric(e, "kappa_external"), metric(b, "kappa_external"));
    }
    html += "</table>";
  }
  return html;
}

}  // namespace

std::string report_html(const Report& report, const nlohmann::json& metrics, const nlohmann::json& explanations) {
  const int K = report.levels;
  uint64_t cells = 0;
  for (const auto& g : report.regions) cells += g.cells;
  std::string html =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>resilinet report</title><style>"
      "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
      ".sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}"
      ".bar{height:12px}.prio{background:#f4c7c3;font-weight:bold}.region{display:flex;gap:2em;flex-wrap:wrap}"
      "</style></head><body><h1>Resilience levels by region</h1>";
  html += fmt::format("<p>{} cells in {} region(s), rated on {} levels: 1 = very low resilience, {} = very high. "
                      "The map shows a sample of up to a few thousand cells per region.</p>",
                      cells, report.regions.size(), K, K);
  if (metrics.is_object() && metrics.contains("evaluation")) {
    html += "<h2>Training run</h2><table>";
    for (const auto& [key, value] : metrics["evaluation"].items())
      if (value.is_number()) html += fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape(key), number(value.get<double>()));
    html += "</table>";
  }
  if (metrics.is_object()) html += method_section(metrics);
  for (const RegionReport& g : report.regions) {
    html += fmt::format("<h2>{}</h2><p>{} cells</p><div class=region><div>{}", escape(g.name), g.cells, level_table(g, K));
    if (!g.risk_levels.empty()) html += fmt::format("<h3>Resilience and hazard risk</h3>{}", risk_table(g, K));
    html += fmt::format("</div><div>{}</div></div>", map_svg(g, K));
  }
  html += "<h2>Mean feature values by level</h2><table><tr><th>feature</th>";
  for (int k = 0; k < K; ++k) html += fmt::format("<th>level {}</th>", k + 1);
  html += "</tr>";
  for (size_t f = 0; f < report.feature_names.size(); ++f) {
    html += fmt::format("<tr><th>{}</th>", escape(report.feature_names[f]));
    for (int k = 0; k < K; ++k) html += fmt::format("<td>{}</td>", number(report.feature_means[k][f]));
    html += "</tr>";
  }
  html += "</table>";
  if (explanations.is_object() && explanations.contains("relevance") && explanations["relevance"].contains("levels")) {
    html += "<h2>Features that drive each level (LRP relevance, mean |R|)</h2><table>";
    for (const auto& l : explanations["relevance"]["levels"]) {
      html += fmt::format("<tr><th>level {}</th>", l.value("level", 0));
      for (const auto& t : l.value("top_features", nlohmann::json::array()))
        html += fmt::format("<td>{} ({})</td>", escape(t.value("name", "")), number(t.value("mean_abs", 0.0)));
      html += "</tr>";
    }
    html += "</table>";
  }
  if (report.has_hazard && !report.hazard_cuts.empty()) {
    html += "<p>Risk classes are quintiles of the hazard column over all cells; cuts:";
    for (double c : report.hazard_cuts) html += fmt::format(" {}", number(c));
    html += ".</p>";
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace resilinet
