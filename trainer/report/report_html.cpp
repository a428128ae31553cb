// report.html (trainer/report/report.hpp): one file with inline CSS and SVG, no scripts and no
// external resources (the priority CSVs are data: links), so it can be mailed or archived with a run.
// This file only puts the sections in order; each is built in its own file (report_html_parts.hpp).
#include <algorithm>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet {
namespace {

using report_page::Page;

// The page in order: overview, all regions, each region, roll-ups, explanations, evidence, variants,
// scenarios, model card.
Page build_page(const Report& report, const ReportInputs& inputs) {
  Page page;
  report_page::region_section(page, report, -1, inputs);
  for (size_t g = 0; g < report.regions.size(); ++g)
    if (report.regions[g].section) report_page::region_section(page, report, int(g), inputs);
  report_page::rollup_section(page, report);
  report_page::explanation_sections(page, report, inputs.explanations);
  report_page::evidence_sections(page, report, inputs.metrics, inputs.training_log);
  report_page::variants_section(page, inputs.variants);
  report_page::scenarios_section(page, inputs.scenarios);
  report_page::provenance_section(page, report, inputs);
  return page;
}

std::string intro(const Report& report, const ReportInputs& inputs) {
  using report_page::escape;
  const RegionReport& all = report.all;
  std::string html = fmt::format(
      "<section id='summary'><p>{} cells in {} region(s), rated on {} levels by the classifier head of "
      "<code>{}</code>: level 1 = very low resilience, level {} = very high.",
      all.cells, report.regions.size(), report.levels, escape(inputs.provenance.checkpoint), report.levels);
  if (report.not_rated)
    html += fmt::format(" {} cells could not be rated (values too extreme) and are left out of every table.",
                        report.not_rated);
  const size_t sections = size_t(std::count_if(report.regions.begin(), report.regions.end(),
                                               [](const RegionReport& g) { return g.section; }));
  if (sections < report.regions.size())
    html += fmt::format(" The {} regions with the most cells have a section and maps of their own "
                        "(<code>--region-sections</code>); all {} are in the <a href='#rollup-region'>roll-ups</a> "
                        "(every one in its CSV link) "
                        "and in report.json.",
                        sections, report.regions.size());
  if (!all.risk_levels.empty() && !report.hazard_cuts.empty())
    html += fmt::format(" <b>{}</b> cells ({}) are priority cells: hazard risk class {}-{} at level 1-2.",
                        all.priority_cells, report_page::percent(all.priority_cells, all.cells), kRiskClasses - 1,
                        kRiskClasses);
  html += fmt::format(" Made {} with resilinet {}.</p><p class=limit>{} {}</p></section>",
                      escape(inputs.provenance.created_utc), escape(inputs.provenance.version),
                      report_page::kLimitRelative, report_page::kLimitExternal);
  return html;
}

}  // namespace

std::string report_html(const Report& report, const ReportInputs& inputs) {
  return build_page(report, inputs).html(intro(report, inputs));
}

std::vector<std::string> report_section_ids(const Report& report, const ReportInputs& inputs) {
  std::vector<std::string> ids = {"summary", "contents"};
  const Page page = build_page(report, inputs);  // named: a range-for over a temporary's member dangles
  ids.insert(ids.end(), page.ids().begin(), page.ids().end());
  return ids;
}

}  // namespace resilinet
