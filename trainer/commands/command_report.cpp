// `resilinet report --checkpoint C --data GLOB --out DIR`: the per-region report (report.json and a
// self-contained report.html): levels per region, the resilience-risk overlay, a map of the cells,
// mean features per level, and, when given, the training metrics and the explanation summary.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/report/report.hpp"

namespace resilinet {

namespace {
struct ReportArgs {
  std::string checkpoint, data, out = "report", metrics, explain;
  size_t map_points = 4000;
  bool quiet = false;
};

// An optional JSON input: null when no path is given; InputError when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path, const std::string& option) {
  if (path.empty()) return nullptr;
  std::ifstream in(path);
  if (!in) throw InputError(path, option, "a readable JSON file", "no such file");
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(path, option, "a JSON object", "malformed JSON");
  return j;
}
}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* sub = app.add_subcommand("report", "Per-region report: levels, risk overlay and map (JSON and HTML)");
  sub->add_option("--checkpoint", args->checkpoint, "checkpoint.h5 from `resilinet train`")->required();
  sub->add_option("--data", args->data, "Glob of shards to report on")->required();
  sub->add_option("--out", args->out, "Output folder for report.json and report.html")->capture_default_str();
  sub->add_option("--metrics", args->metrics, "metrics.json of the training run, shown in the report");
  sub->add_option("--explain", args->explain, "explain_summary.json from `resilinet explain`, shown in the report");
  sub->add_option("--map-points", args->map_points, "Cells drawn on each region's map (a deterministic sample)")
      ->capture_default_str();
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] {
    const nlohmann::json metrics = read_json_file(args->metrics, "--metrics");
    const nlohmann::json explanations = read_json_file(args->explain, "--explain");
    Checkpoint ck = read_checkpoint(args->checkpoint);
    require_finished(ck, args->checkpoint);
    ShardSet data = ShardSet::open(args->data);
    require_same_schema(ck.model.schema, args->checkpoint, data.schema(), args->data);
    if (data.total_rows() == 0) throw InputError(args->data, "rows", "at least one cell", "0");
    Progress progress("", args->quiet);
    const Report report = build_report(ck, data, progress, args->map_points);
    make_output_dir(args->out, "--out");
    write_text_atomically(args->out + "/report.json", report_json(report, metrics, explanations).dump(2) + "\n");
    write_text_atomically(args->out + "/report.html", report_html(report, metrics, explanations));
    progress.message("resilinet report: " + args->out + "/report.html and report.json");
  });
}

}  // namespace resilinet
