// `resilinet report --checkpoint C --data GLOB --out DIR`: the per-region report (report.json and a
// self-contained report.html): levels per region, the resilience-risk overlay, a map of the cells,
// mean features per level, and, when given, the training metrics and the explanation summary.
#include <cerrno>
#include <cstdio>
#include <cstring>
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

// An optional JSON input: null when no path is given; InputError when it is missing, malformed or not
// of the shape `check` accepts (the members the report reads), before anything is written.
nlohmann::json read_json_file(const std::string& path, const std::string& option,
                              void (*check)(const nlohmann::json&, const std::string&, const std::string&)) {
  if (path.empty()) return nullptr;
  // A folder opens as a stream on Linux and then reads as malformed JSON.
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw InputError(path, option, "a JSON file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, option, "a readable JSON file", "no such file");
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(path, option, "a JSON object", "malformed JSON");
  check(j, path, option);
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
    const nlohmann::json metrics = read_json_file(args->metrics, "--metrics", check_report_metrics);
    const nlohmann::json explanations = read_json_file(args->explain, "--explain", check_report_explanations);
    Checkpoint ck = read_checkpoint(args->checkpoint);
    require_finished(ck, args->checkpoint);
    ShardSet data = ShardSet::open(args->data);
    require_same_schema(ck.model.schema, args->checkpoint, data.schema(), args->data);
    if (data.total_rows() == 0) throw InputError(args->data, "rows", "at least one cell", "0");
    Progress progress("", args->quiet);
    const Report report = build_report(ck, data, progress, args->map_points);
    const std::string json_text = report_json(report, metrics, explanations).dump(2) + "\n";
    const std::string html_text = report_html(report, metrics, explanations);
    make_output_dir(args->out, "--out");
    // Both files are complete under their temporary names before either is renamed, so a failed
    // write leaves neither (and no new report.json beside an old report.html).
    const auto fill = [&](AtomicTextFile& file, const std::string& name, const std::string& text) {
      if (std::fwrite(text.data(), 1, text.size(), file.handle()) != text.size() || std::fflush(file.handle()) != 0)
        throw WriteError(args->out + "/" + name, std::strerror(errno));
    };
    AtomicTextFile json_file(args->out + "/report.json"), html_file(args->out + "/report.html");
    fill(json_file, "report.json", json_text);
    fill(html_file, "report.html", html_text);
    json_file.commit();
    html_file.commit();
    progress.message("resilinet report: " + args->out + "/report.html and report.json");
  });
}

}  // namespace resilinet
