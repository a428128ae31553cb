// The scenarios section of report.html (trainer/report/report_html_parts.hpp): what each scenario of
// `resilinet scenario` changed, from its scenario_summary.json (docs/FORMAT.md "Scenario outputs").
#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

void regions_table(Page& page, const json& regions) {
  page << "<table><tr><th class=l>region</th><th>cells edited</th><th>improved</th><th>same</th><th>worse</th></tr>";
  for (const json& g : regions)
    page << fmt::format("<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(g["name"].get<std::string>()), number(g["cells_edited"]), number(g["improved"]),
                        number(g["same"]), number(g["worse"]));
  page << "</table>";
}

void features_table(Page& page, const json& features) {
  page << "<table><tr><th class=l>edited feature</th><th>cells</th><th>outside the training range</th>"
          "<th>mean relevance before</th><th>after</th></tr>";
  for (const json& f : features)
    page << fmt::format("<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(f["name"].get<std::string>()), number(f["cells"]), number(f["out_of_range_cells"]),
                        number(f.value("relevance_before", json())), number(f.value("relevance_after", json())));
  page << "</table>";
}

void goal_table(Page& page, const json& goal) {
  page << fmt::format(
      "<p>Goal seeking: for each edited cell (as it was before the scenario), the smallest change of one feature "
      "within its training range that the model rates at level {}. {} of {} cells reach it ({} are there "
      "already); for {} no single feature does.</p>",
      number(goal["target_level"]), number(goal["reached"]), number(goal["cells"]), number(goal["already_at_target"]),
      number(goal["not_reachable"]));
  if (!goal.contains("by_feature") || goal["by_feature"].empty()) return;
  page << "<table><tr><th class=l>feature to change</th><th>cells</th></tr>";
  for (const auto& [name, count] : goal["by_feature"].items())
    page << fmt::format("<tr><td class=l>{}</td><td>{}</td></tr>", escape(name), number(count));
  page << "</table>";
}

}  // namespace

void scenarios_section(Page& page, const json& summary) {
  if (summary.is_null()) return;
  page.open("scenarios", "Scenarios");
  page << "<p>What-if edits of the cells' features, re-rated with the frozen scaler and model (no retraining): the "
          "level of every edited cell before and after. The per-cell files are in each scenario's folder beside "
          "scenario_summary.json. A value pushed outside the training range is extrapolation; such cells are "
          "counted.</p>";
  for (size_t i = 0; i < summary["scenarios"].size(); ++i) {
    const json& s = summary["scenarios"][i];
    page.open("scenario-" + std::to_string(i + 1), "Scenario " + s["name"].get<std::string>(), 3);
    if (s.contains("description") && !s["description"].get<std::string>().empty())
      page << "<p>" << escape(s["description"].get<std::string>()) << "</p>";
    page << fmt::format("<p>{} cells edited: {} to a higher level, {} unchanged, {} to a lower level; {} with a value "
                        "outside the training range.</p>",
                        number(s["cells_edited"]), number(s["improved"]), number(s["same"]), number(s["worse"]),
                        number(s["out_of_range_cells"]));
    count_table(page, s["transitions"], "level before", "level after");
    if (s.contains("regions") && !s["regions"].empty()) regions_table(page, s["regions"]);
    if (s.contains("edited_features") && !s["edited_features"].empty()) features_table(page, s["edited_features"]);
    if (s.contains("goal")) goal_table(page, s["goal"]);
    page.close();
  }
  page.close();
}

}  // namespace resilinet::report_page
