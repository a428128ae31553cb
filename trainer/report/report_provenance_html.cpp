// The model card of report.html (trainer/report/report_html_parts.hpp): what the report was made
// from (inputs, shards, schema, resolved config, seed, threads, device, version, commit, date) and the
// method's limits.
#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

std::string or_none(const std::string& s) { return s.empty() ? "<span class=note>not given</span>" : escape(s); }

void inputs_table(Page& page, const Report& report, const ReportProvenance& p) {
  const TrainConfig& c = report.config;
  const std::pair<const char*, std::string> rows[] = {
      {"checkpoint", or_none(p.checkpoint)},
      {"data (glob)", or_none(p.data)},
      {"metrics.json", or_none(p.metrics)},
      {"metrics.jsonl", or_none(p.metrics_log)},
      {"explain_summary.json", or_none(p.explain)},
      {"training data (config)", escape(c.data)},
      {"seed (run.seed)", std::to_string(c.seed)},
      {"threads (run.threads)", c.threads == 0 ? "0 (all cores of the training machine)" : std::to_string(c.threads)},
      {"device (run.device)", escape(c.device)},
      {"scaler", escape(c.scaler.type)},
      {"clustering space", escape(c.clusters.space)},
      {"levels (clusters.k)", std::to_string(report.levels)},
      {"level order rule", escape(c.level_order)},
      {"resilinet version", or_none(p.version)},
      {"commit", or_none(p.commit)},
      {"report made (UTC)", or_none(p.created_utc)},
  };
  page << "<table>";
  for (const auto& [label, value] : rows) page << fmt::format("<tr><th class=l>{}</th><td class=l>{}</td></tr>", label, value);
  page << "</table>";
}

void shards_table(Page& page, const Report& report) {
  size_t total = 0;
  std::string rows;
  for (const auto& [path, n] : report.shards) {
    rows += fmt::format("<tr><td class=l>{}</td><td>{}</td></tr>", escape(path), n);
    total += n;
  }
  page << fmt::format("<details><summary>{} shard(s), {} cells</summary><table><tr><th class=l>shard</th>"
                      "<th>cells</th></tr>{}</table></details>",
                      report.shards.size(), total, rows);
}

void schema_table(Page& page, const Schema& schema) {
  page << "<table><tr><th class=l>feature</th><th class=l>system</th><th class=l>component</th><th>direction</th>"
          "<th class=l>unit</th></tr>";
  for (const FeatureSpec& f : schema.features)
    page << fmt::format("<tr><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td>{}</td><td class=l>{}</td></tr>",
                        escape(f.name), escape(f.system), escape(f.component),
                        f.direction > 0 ? "+1 (more is more resilient)" : "-1 (less is more resilient)",
                        f.unit.empty() ? "-" : escape(f.unit));
  page << "</table>";
}

}  // namespace

void provenance_section(Page& page, const Report& report, const ReportInputs& inputs) {
  page.open("provenance", "Provenance (model card)");
  page << "<p>What this report was made from, so that it can be made again and checked.</p>";
  inputs_table(page, report, inputs.provenance);
  shards_table(page, report);
  page.open("schema", "Features (schema of the checkpoint)", 3);
  schema_table(page, report.schema);
  page.close();
  page.open("config", "Resolved training config", 3);
  page << "<details><summary>config.yaml as the checkpoint holds it (every key, defaults filled in)</summary><pre>"
       << escape(to_yaml(report.config)) << "</pre></details>";
  page.close();
  page.open("limits", "Limits of the method", 3);
  page << fmt::format(
      "<ul><li>{}</li><li>{}</li><li>Risk classes are quintiles of this data's hazard, so they are relative as well; "
      "a cell's class can change when other cells are added.</li><li>Relevance and sensitivity explain what the model "
      "does with the features, not what causes resilience.</li><li>The maps show a sample of the cells and the "
      "priority list is capped (the text says where); report.json holds the full counts.</li></ul>",
      kLimitRelative, kLimitExternal);
  page.close();
  page.close();
}

}  // namespace resilinet::report_page
