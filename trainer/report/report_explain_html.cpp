// The explanation sections of report.html (trainer/report/report_html_parts.hpp), from
// explain_summary.json: LRP relevance per level by feature, system and component, and the
// perturbation sensitivity per feature. The shapes read here are checked by check_report_explanations.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

// A relevance table: one row per feature (or system, component), one column per level and "all";
// cells show the mean relevance, shaded by sign and size over the whole table.
void relevance_table(Page& page, const json& relevance, const char* key) {
  std::vector<const json*> columns;
  std::vector<std::string> headers;
  for (const json& level : relevance["levels"]) {
    columns.push_back(&level);
    headers.push_back(fmt::format("level {}", level["level"].get<int>()) +
                      (level.contains("cells") ? fmt::format("<br><span class=note>{} cells</span>", number(level["cells"])) : ""));
  }
  if (relevance.contains("all")) columns.push_back(&relevance["all"]), headers.push_back("all");
  // Rows in order of first appearance; per row and column the entry's mean and mean_abs.
  std::vector<std::string> names;
  std::map<std::string, const json*> first;
  std::map<std::pair<std::string, size_t>, const json*> entry;
  double range = 1e-12;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (!columns[c]->contains(key)) continue;
    for (const json& e : (*columns[c])[key]) {  // by reference: the map below keeps pointers
      const std::string name = e["name"].get<std::string>();
      if (!first.count(name)) names.push_back(name), first[name] = &e;
      entry[{name, c}] = &e;
      if (e["mean"].is_number()) range = std::max(range, std::abs(e["mean"].get<double>()));
    }
  }
  if (names.empty()) {
    page << fmt::format("<p class=note>explain_summary.json has no {} per level.</p>", key);
    return;
  }
  const bool features = std::string(key) == "features";
  page << "<table><tr>" << (features ? "<th class=l>system</th><th class=l>component</th>" : "")
       << fmt::format("<th class=l>{}</th>", features ? "feature" : key == std::string("systems") ? "system" : "component");
  for (const auto& h : headers) page << "<th>" << h << "</th>";
  page << "</tr>";
  for (const auto& name : names) {
    page << "<tr>";
    if (features)
      page << fmt::format("<td class=l>{}</td><td class=l>{}</td>", escape(first[name]->value("system", "")),
                          escape(first[name]->value("component", "")));
    page << fmt::format("<th class=l>{}</th>", escape(name));
    for (size_t c = 0; c < columns.size(); ++c) {
      const auto it = entry.find({name, c});
      if (it == entry.end() || !(*it->second)["mean"].is_number()) {
        page << "<td>-</td>";
        continue;
      }
      const double mean = (*it->second)["mean"].get<double>();
      page << shaded_cell(number(mean), diverging_color(mean / range),
                          "mean |relevance| " + number((*it->second)["mean_abs"]));
    }
    page << "</tr>";
  }
  page << "</table>";
}

// Whether a feature's sensitivity points the way its direction says: more of a feature that is
// "more is more resilient" should move cells up, less of it down (the reverse for direction -1).
// A move whose net (up - down) is under a tenth of the cells it changed is "mixed".
std::string expected_direction(const json& f, int direction) {
  int against = 0, mixed = 0, moved = 0;
  for (const char* sign : {"plus", "minus"}) {
    const json& s = f[sign];
    const double net = (s["up"].get<double>() - s["down"].get<double>()) * direction * (sign[0] == 'p' ? 1 : -1);
    const double changed = s["changed"].get<double>();
    if (changed <= 0) continue;
    ++moved;
    if (std::abs(net) < 0.1 * changed) ++mixed;
    else if (net < 0) ++against;
  }
  if (moved == 0) return "-";
  return against ? "<b>no</b>" : mixed ? "mixed" : "yes";
}

void sensitivity_table(Page& page, const Report& report, const json& perturbation) {
  std::map<std::string, int> direction;
  for (const auto& f : report.schema.features) direction[f.name] = f.direction;
  double range = 1e-12;
  for (const json& f : perturbation["features"])
    for (const char* sign : {"plus", "minus"}) range = std::max(range, f[sign]["changed"].get<double>());
  page << fmt::format("<p>The share of cells whose level changes when one feature moves by &plusmn;{} in scaled "
                      "units (the scaler's units: a share of the training range for robust and min-max scaling, "
                      "standard deviations for z-score), the others held; up and down: the shares that move to a "
                      "higher or lower level. The last column asks whether the changes point the way the "
                      "feature's direction says (mixed: about as many move either way).</p>",
                      number(perturbation["delta"]));
  page << "<table><tr><th class=l rowspan=2>feature</th><th rowspan=2>direction</th><th colspan=3>+&delta;</th>"
          "<th colspan=3>&minus;&delta;</th><th rowspan=2>as the direction<br>expects</th></tr><tr>"
          "<th>changed</th><th>up</th><th>down</th><th>changed</th><th>up</th><th>down</th></tr>";
  for (const json& f : perturbation["features"]) {
    const std::string name = f["name"].get<std::string>();
    const auto d = direction.find(name);
    page << fmt::format("<tr><th class=l>{}</th><td>{}</td>", escape(name),
                        d == direction.end() ? "?" : d->second > 0 ? "+1" : "-1");
    for (const char* sign : {"plus", "minus"}) {
      const double changed = f[sign]["changed"].get<double>();
      page << shaded_cell(percent(changed), sequential_color(changed / range))
           << fmt::format("<td>{}</td><td>{}</td>", percent(f[sign]["up"].get<double>()),
                          percent(f[sign]["down"].get<double>()));
    }
    page << fmt::format("<td>{}</td></tr>", d == direction.end() ? "?" : expected_direction(f, d->second));
  }
  page << "</table>";
}

}  // namespace

void explanation_sections(Page& page, const Report& report, const json& explanations) {
  page.open("explanations", "What drives the levels");
  if (explanations.is_null()) {
    page << "<p class=note>No explanation summary given (<code>report --explain "
            "explain/explain_summary.json</code>, from <code>resilinet explain</code>).</p>";
    page.close();
    return;
  }
  const json& relevance = explanations["relevance"];
  page << fmt::format("<p>Layer-wise relevance propagation (LRP) of the classifier head: how much each feature's "
                      "value contributed to the score of the cell's rated level ({}), as the mean over the level's "
                      "cells. Positive (blue): the value speaks for the level; negative (red): against it. Systems "
                      "and components sum their features' relevance per cell. Hover a cell for the mean absolute "
                      "relevance.</p>",
                      escape(explanations.value("composite", "composite of the explain config")));
  page.open("relevance-features", "Relevance by feature", 3);
  relevance_table(page, relevance, "features");
  page.close();
  page.open("relevance-systems", "Relevance by system", 3);
  relevance_table(page, relevance, "systems");
  page.close();
  page.open("relevance-components", "Relevance by component", 3);
  relevance_table(page, relevance, "components");
  page.close();
  if (explanations.contains("perturbation")) {
    page.open("sensitivity", "Sensitivity per feature", 3);
    sensitivity_table(page, report, explanations["perturbation"]);
    page.close();
  }
  page.close();
}

}  // namespace resilinet::report_page
