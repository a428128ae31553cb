// `resilinet report --checkpoint C --data GLOB --out DIR`: the per-region report (report.json and a
// self-contained report.html): levels per region and for all regions, maps, the resilience-risk
// overlay with the priority cells, feature profiles per level, and, when given, the training
// metrics with their curves and the explanation summary; a model card of what it was made from.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
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

// The commit the binary was built from, when the build knows it (tests/CMakeLists.txt sets it from
// `git rev-parse --short HEAD` at configure time).
#ifndef RESILINET_COMMIT
#define RESILINET_COMMIT "unknown"
#endif

namespace resilinet {

namespace {

struct ReportArgs {
  std::string checkpoint, data, out = "report", metrics, metrics_log, explain, scenarios, variants, hazard_unit;
  size_t map_points = 4000, map_cells = 50000, priority_rows = 10000, region_sections = 100;
  bool quiet = false;
};

// An optional JSON input: null when no path is given; InputError when it is missing, malformed or not
// of the shape `check` accepts (the members the report reads), before anything is written.
nlohmann::json read_json_file(const std::string& path, const std::string& option,
                              const std::function<void(const nlohmann::json&, const std::string&, const std::string&)>& check) {
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

// The records of a metrics.jsonl (one JSON object a line) as a list; null when no path is given.
// InputError names the line of a record that does not parse or has the wrong shape.
nlohmann::json read_json_lines(const std::string& path, const std::string& option) {
  if (path.empty()) return nullptr;
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw InputError(path, option, "a JSON lines file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, option, "a readable JSON lines file", "no such file");
  nlohmann::json records = nlohmann::json::array();
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw InputError(path, option + " line " + std::to_string(n), "a JSON object", "malformed JSON");
    records.push_back(std::move(j));
  }
  check_report_training_log(records, path, option);
  return records;
}

// metrics.jsonl: the one asked for, else the one beside metrics.json when there is one.
std::string training_log_path(const ReportArgs& args) {
  if (!args.metrics_log.empty() || args.metrics.empty()) return args.metrics_log;
  const auto beside = std::filesystem::path(args.metrics).parent_path() / "metrics.jsonl";
  std::error_code ec;
  return std::filesystem::is_regular_file(beside, ec) ? beside.string() : "";
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}
}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* sub = app.add_subcommand("report", "Per-region report: levels, risk overlay and map (JSON and HTML)");
  sub->add_option("--checkpoint", args->checkpoint, "checkpoint.h5 from `resilinet train`")->required();
  sub->add_option("--data", args->data, "Glob of shards to report on")->required();
  sub->add_option("--out", args->out, "Output folder for report.json and report.html")->capture_default_str();
  sub->add_option("--metrics", args->metrics, "metrics.json of the training run, shown in the report");
  sub->add_option("--metrics-log", args->metrics_log,
                  "metrics.jsonl of the training run, drawn as training curves (default: the one beside --metrics)");
  sub->add_option("--explain", args->explain, "explain_summary.json from `resilinet explain`, shown in the report");
  sub->add_option("--map-points", args->map_points,
                  "Cells drawn on each map of at most --map-cells cells, per region and for all regions (a "
                  "deterministic sample)")
      ->capture_default_str();
  sub->add_option("--map-cells", args->map_cells,
                  "Maps of more cells than this are a raster of every cell (the majority level per bin) instead "
                  "of a dot per sampled cell")
      ->capture_default_str();
  sub->add_option("--region-sections", args->region_sections,
                  "Regions with a section and maps of their own, the ones with the most cells; the others are in "
                  "the roll-ups and report.json")
      ->capture_default_str();
  sub->add_option("--priority-rows", args->priority_rows,
                  "Priority cells listed (and in the page's CSV links), the highest hazard first")
      ->capture_default_str();
  sub->add_option("--scenarios", args->scenarios,
                  "scenario_summary.json from `resilinet scenario`, shown as the report's scenarios section");
  sub->add_option("--variants", args->variants,
                  "variants.json from `resilinet bench --variants`, shown as the report's variants table");
  sub->add_option("--hazard-unit", args->hazard_unit, "Unit of the data's /hazard, shown with the risk classes");
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] {
    const nlohmann::json metrics = read_json_file(args->metrics, "--metrics", check_report_metrics);
    const nlohmann::json explanations = read_json_file(args->explain, "--explain", check_report_explanations);
    const nlohmann::json variants = read_json_file(args->variants, "--variants", check_report_variants);
    const std::string log_path = training_log_path(*args);
    const nlohmann::json training_log =
        read_json_lines(log_path, args->metrics_log.empty() ? "metrics.jsonl beside --metrics" : "--metrics-log");
    Checkpoint ck = read_checkpoint(args->checkpoint);
    require_finished(ck, args->checkpoint);
    ShardSet data = ShardSet::open(args->data);
    require_same_schema(ck.model.schema, args->checkpoint, data.schema(), args->data);
    if (data.total_rows() == 0) throw InputError(args->data, "rows", "at least one cell", "0");
    Progress progress("", args->quiet);
    ReportOptions options;
    options.map_points = args->map_points;
    options.map_cells = args->map_cells;
    options.priority_rows = args->priority_rows;
    options.region_sections = args->region_sections;
    options.hazard_unit = args->hazard_unit;
    const Report report = build_report(ck, data, progress, options);
    ReportInputs inputs;
    inputs.metrics = metrics;
    inputs.explanations = explanations;
    inputs.training_log = training_log;
    inputs.variants = variants;
    inputs.scenarios = read_json_file(args->scenarios, "--scenarios", [&](const nlohmann::json& j, const std::string& file,
                                                                          const std::string& option) {
      check_report_scenarios(j, ck.model.clusters, file, option);
    });
    inputs.provenance = {args->checkpoint, args->data,      args->metrics,    args->explain,
                         log_path,         RESILINET_VERSION, RESILINET_COMMIT, utc_now()};
    const std::string json_text = report_json_text(report_json(report, inputs));
    const std::string html_text = report_html(report, inputs);
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
