// The variants section of report.html (trainer/report/report_html_parts.hpp): the table of
// `resilinet bench --variants` (variants.json, docs/FORMAT.md "Report"), one row per variant and one
// column per metric, mean ± sd over the seeds, the best mean of each column in bold.
#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

std::string summary_cell(const VariantsTable& t, size_t r, size_t m) {
  const auto& value = t.rows[r].values[m];
  if (!value) return "<td class=na>n/a</td>";
  std::string text = number(value->mean) + (value->sd ? " ± " + number(*value->sd) : "");
  if (t.is_best(r, m)) text = "<b>" + text + "</b>";
  const std::string title = value->n ? fmt::format(" title='n = {}'", *value->n) : "";
  return fmt::format("<td{}{}>{}</td>", t.is_best(r, m) ? " class=best" : "", title, text);
}

}  // namespace

void variants_section(Page& page, const json& variants) {
  if (variants.is_null()) return;
  const VariantsTable t = variants_table(variants);
  page.open("variants", "Variants");
  std::string seeds;
  for (const json& s : variants.value("seeds", json::array())) seeds += (seeds.empty() ? "" : ", ") + number(s);
  page << fmt::format("<p>The configurations compared by <code>resilinet bench --variants</code>{}{}{}: the mean "
                      "± standard deviation of each metric over the seeds, the best mean of each column in "
                      "<b>bold</b> (&darr;: lower is better, &uarr;: higher is better).</p>",
                      variants.contains("data") ? " on <code>" + escape(variants["data"].get<std::string>()) + "</code>"
                                                : "",
                      variants.contains("cells") ? " (" + number(variants["cells"]) + " cells)" : "",
                      seeds.empty() ? "" : ", seeds " + escape(seeds));
  page << "<table><tr><th class=l>variant</th><th class=l>kind</th>";
  for (const auto& m : t.metrics)
    page << fmt::format("<th title='{}'>{} {}</th>", escape(m.key), escape(m.label),
                        m.lower_is_better ? "&darr;" : "&uarr;");
  page << "</tr>";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    page << fmt::format("<tr><td class=l title='{}'>{}</td><td class=l>{}</td>", escape(row.description + " " + row.file),
                        escape(row.name), escape(row.kind));
    for (size_t m = 0; m < t.metrics.size(); ++m) page << summary_cell(t, r, m);
    page << "</tr>";
  }
  page << "</table><p class=note>n/a: the variant has no value for the metric (a baseline without the "
          "network's losses, or no seed finished). Hover a variant for its description and config file, a value "
          "for its number of seeds.</p>";
  page.close();
}

}  // namespace resilinet::report_page
