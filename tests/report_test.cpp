// `resilinet report`: its counts against an independent recount from the shards and `rate`'s output
// (levels per region, the hazard quintile x level table, priority cells and the priority list,
// feature profiles and means by level), the page against the inputs it was given (every section,
// the metrics, explanations, training curves and model card), a page that stays bounded as the
// cells grow, and bad input. The page in a browser: report_browser_test.cpp.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/shard.hpp"
#include "datasets/shard_set.hpp"
#include "report_run.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/report/report.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;
using nlohmann::json;

namespace {

json read_json(const std::filesystem::path& p) { return json::parse(rt::read_text(p)); }

// Every cell in natural order: its level from `rate`, and region, id, position, hazard and raw
// features from the shards.
struct Cells {
  std::vector<int32_t> level;
  std::vector<uint32_t> region;
  std::vector<int64_t> cell_id;
  std::vector<double> lonlat;
  std::vector<float> hazard, x;
  std::vector<std::string> region_names;
  size_t features = 0;
};

Cells rated_cells(const rt::ReportRun& t) {
  Cells c;
  const auto out = t.dir / "ratings";
  if (!std::filesystem::exists(out / "ratings.h5")) {
    const auto r = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + t.checkpoint + " --data '" + t.data +
                                     "' --out " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  {
    auto f = h5::open_file_read_only((out / "ratings.h5").string());
    auto ds = h5::open_row_dataset(f, "level");
    c.level.resize(h5::dataset_dims(ds)[0]);
    h5::read_rows(ds, H5T_NATIVE_INT32, 0, c.level.size(), c.level.data());
  }
  ShardSet data = ShardSet::open(t.data);
  c.features = data.schema().size();
  c.region_names = data.region_names();
  for_each_scaled_batch(data, 65536, nullptr, 4096, [&](const Batch& b, const float*) {
    c.region.insert(c.region.end(), b.region, b.region + b.rows);
    c.cell_id.insert(c.cell_id.end(), b.cell_id, b.cell_id + b.rows);
    c.lonlat.insert(c.lonlat.end(), b.lonlat, b.lonlat + 2 * b.rows);
    c.hazard.insert(c.hazard.end(), b.hazard, b.hazard + b.rows);
    c.x.insert(c.x.end(), b.x, b.x + b.rows * c.features);
  });
  EXPECT_EQ(c.level.size(), c.region.size());
  return c;
}

// The quintile cuts of the hazard over all cells, as the report's rule states them.
std::vector<double> quintile_cuts(const Cells& c) {
  std::vector<double> sorted(c.hazard.begin(), c.hazard.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cuts;
  for (int k = 1; k < 5; ++k) cuts.push_back(sorted[sorted.size() * k / 5]);
  return cuts;
}

// Risk class 1..5 by counting the cuts at or below the hazard.
int risk_of(const std::vector<double>& cuts, double hazard) {
  return 1 + int(std::upper_bound(cuts.begin(), cuts.end(), hazard) - cuts.begin());
}

// The value of the attribute `name` of the first tag that has `marker` in it.
std::string attribute_after(const std::string& html, const std::string& marker, const std::string& name) {
  const size_t at = html.find(marker);
  if (at == std::string::npos) return "";
  const size_t tag = html.rfind('<', at);
  const size_t start = html.find(name + "='", tag);
  if (start == std::string::npos) return "";
  const size_t from = start + name.size() + 2;
  return html.substr(from, html.find('\'', from) - from);
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '%' && i + 2 < s.size()) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  return out;
}

// The CSV of a priority download link on the page, split into rows of fields (header first).
std::vector<std::vector<std::string>> page_csv(const std::string& html, const std::string& file_name) {
  const std::string href = attribute_after(html, "download='" + file_name + "'", "href");
  const std::string prefix = "data:text/csv;charset=utf-8,";
  EXPECT_EQ(href.substr(0, prefix.size()), prefix) << file_name;
  std::vector<std::vector<std::string>> rows;
  std::stringstream text(percent_decode(href.substr(std::min(prefix.size(), href.size()))));
  for (std::string line; std::getline(text, line);) {
    std::vector<std::string> fields;
    std::stringstream l(line);
    for (std::string f; std::getline(l, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST(Report, CountsMatchARecountFromShardsAndRatings) {
  const rt::ReportRun& t = rt::report_run();
  const auto out = t.dir / "report";
  auto r = rt::run_report(t, out, "--metrics " + t.metrics);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = read_json(out / "report.json");
  const Cells c = rated_cells(t);
  const std::vector<double> cuts = quintile_cuts(c);
  const size_t regions = c.region_names.size(), F = c.features;
  std::vector<std::vector<uint64_t>> level_cells(regions, std::vector<uint64_t>(5, 0));
  std::vector<std::vector<std::vector<uint64_t>>> table(regions, std::vector<std::vector<uint64_t>>(5, std::vector<uint64_t>(5, 0)));
  std::vector<uint64_t> priority(regions, 0), with_risk(regions, 0);
  double sum_age_level1 = 0, count_age_level1 = 0;  // feature 0 (building_age) at level 1
  for (size_t i = 0; i < c.level.size(); ++i) {
    const uint32_t g = c.region[i];
    ASSERT_GE(c.level[i], 1);  // the synthetic cells are all rated
    ASSERT_TRUE(std::isfinite(c.hazard[i]));
    const int risk = risk_of(cuts, c.hazard[i]);
    ++level_cells[g][c.level[i] - 1];
    ++table[g][risk - 1][c.level[i] - 1];
    ++with_risk[g];
    priority[g] += risk >= 4 && c.level[i] <= 2;
    if (c.level[i] == 1 && !std::isnan(c.x[i * F])) sum_age_level1 += c.x[i * F], count_age_level1 += 1;
  }

  ASSERT_EQ(report["regions"].size(), regions);
  uint64_t total_priority = 0;
  for (size_t g = 0; g < regions; ++g) {
    const json& rg = report["regions"][g];
    EXPECT_EQ(rg["name"], c.region_names[g]);
    EXPECT_EQ(rg["level_cells"].get<std::vector<uint64_t>>(), level_cells[g]) << "region " << g;
    EXPECT_EQ(rg["risk_by_level"].get<std::vector<std::vector<uint64_t>>>(), table[g]) << "region " << g;
    EXPECT_EQ(rg["priority_cells"].get<uint64_t>(), priority[g]) << "region " << g;
    // The risk table and the bivariate bins each count every cell with a risk class once.
    EXPECT_EQ(rg["cells_with_risk_class"].get<uint64_t>(), with_risk[g]) << "region " << g;
    uint64_t table_sum = 0, bins_sum = 0;
    for (const auto& row : rg["risk_by_level"])
      for (const auto& v : row) table_sum += v.get<uint64_t>();
    for (const auto& row : rg["bivariate"]["counts"])
      for (const auto& v : row) bins_sum += v.get<uint64_t>();
    EXPECT_EQ(table_sum, with_risk[g]);
    EXPECT_EQ(bins_sum, with_risk[g]);
    // The high-risk, low-resilience bin is the priority rule.
    EXPECT_EQ(rg["bivariate"]["counts"][0][2].get<uint64_t>(), priority[g]);
    total_priority += priority[g];
  }
  EXPECT_GT(total_priority, 0u);  // the synthetic hazard is higher at low levels
  const json& all = report["all_regions"];
  EXPECT_EQ(all["cells"].get<uint64_t>(), c.level.size());
  EXPECT_EQ(all["priority_cells"].get<uint64_t>(), total_priority);
  for (int k = 0; k < 5; ++k) {
    uint64_t sum = 0;
    for (size_t g = 0; g < regions; ++g) sum += level_cells[g][k];
    EXPECT_EQ(all["level_cells"][k].get<uint64_t>(), sum) << "level " << k + 1;
  }
  EXPECT_EQ(report["risk_classes"]["cuts"].get<std::vector<double>>(), cuts);
  ASSERT_GT(count_age_level1, 0);
  EXPECT_NEAR(report["feature_means_by_level"][0]["features"]["building_age"].get<double>(),
              sum_age_level1 / count_age_level1, 1e-9 * std::abs(sum_age_level1 / count_age_level1));
  EXPECT_TRUE(report.contains("training_metrics"));
}

TEST(Report, FeatureProfileIsTheDirectionSignedScaledMean) {
  const rt::ReportRun& t = rt::report_run();
  const auto out = t.dir / "report";
  auto r = rt::run_report(t, out, "--metrics " + t.metrics);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = read_json(out / "report.json");
  const Cells c = rated_cells(t);
  const Checkpoint ck = read_checkpoint(t.checkpoint);
  const Schema& schema = ck.model.schema;
  const size_t F = schema.size();
  // Recount region 0: the scaler's values, signed by direction, mean per level.
  std::vector<float> scaled(c.x.size());
  ck.model.scaler.transform(c.x.data(), c.level.size(), scaled.data());
  std::vector<double> sum(5 * F, 0.0), count(5, 0.0);
  for (size_t i = 0; i < c.level.size(); ++i) {
    if (c.region[i] != 0) continue;
    count[c.level[i] - 1] += 1;
    for (size_t f = 0; f < F; ++f) sum[(c.level[i] - 1) * F + f] += schema.features[f].direction * double(scaled[i * F + f]);
  }
  const json& levels = report["regions"][0]["feature_profile"]["levels"];
  for (int k = 0; k < 5; ++k)
    for (size_t f = 0; f < F; ++f)
      EXPECT_NEAR(levels[k]["features"][schema.features[f].name].get<double>(), sum[k * F + f] / count[k], 1e-6)
          << "level " << k + 1 << " " << schema.features[f].name;
  // The score of all regions is the ordering rule's: the training run's level scores, on the same cells.
  const json metrics = read_json(t.metrics);
  const json& all = report["all_regions"]["feature_profile"]["levels"];
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(all[k]["score"].get<double>(), metrics["evaluation"]["rated_level_scores"][k].get<double>(), 1e-6);
    if (k > 0) EXPECT_GT(all[k]["score"].get<double>(), all[k - 1]["score"].get<double>());  // the order holds
  }
}

TEST(Report, PriorityListIsADirectFilterOfTheRatedCells) {
  const rt::ReportRun& t = rt::report_run();
  const Cells c = rated_cells(t);
  const std::vector<double> cuts = quintile_cuts(c);
  std::vector<size_t> expected;  // risk class >= 4 and level <= 2, the highest hazard first, ties by id
  for (size_t i = 0; i < c.level.size(); ++i)
    if (risk_of(cuts, c.hazard[i]) >= 4 && c.level[i] >= 1 && c.level[i] <= 2) expected.push_back(i);
  std::sort(expected.begin(), expected.end(), [&](size_t a, size_t b) {
    return c.hazard[a] != c.hazard[b] ? c.hazard[a] > c.hazard[b] : c.cell_id[a] < c.cell_id[b];
  });
  ASSERT_FALSE(expected.empty());

  for (const size_t cap : {size_t(100000), size_t(25)}) {
    SCOPED_TRACE(fmt::format("--priority-rows {}", cap));
    const auto out = t.dir / fmt::format("report-priority-{}", cap);
    auto r = rt::run_report(t, out, fmt::format("--priority-rows {}", cap));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json list = read_json(out / "report.json")["priority_list"];
    const size_t listed = std::min(cap, expected.size());
    EXPECT_EQ(list["total"].get<size_t>(), expected.size());
    EXPECT_EQ(list["cap"].get<size_t>(), cap);
    ASSERT_EQ(list["rows"].size(), listed);
    for (size_t n = 0; n < listed; ++n) {
      const size_t i = expected[n];
      const json& row = list["rows"][n];
      ASSERT_EQ(row[0].get<int64_t>(), c.cell_id[i]) << "row " << n;
      EXPECT_EQ(row[1].get<std::string>(), c.region_names[c.region[i]]);
      EXPECT_DOUBLE_EQ(row[2].get<double>(), c.lonlat[2 * i]);
      EXPECT_DOUBLE_EQ(row[3].get<double>(), c.lonlat[2 * i + 1]);
      EXPECT_EQ(row[4].get<int>(), c.level[i]);
      EXPECT_EQ(row[5].get<float>(), c.hazard[i]);
      EXPECT_EQ(row[6].get<int>(), risk_of(cuts, c.hazard[i]));
    }

    // The page's CSV links: all regions holds the list; each region's link holds its rows of it.
    const std::string html = rt::read_text(out / "report.html");
    const auto csv = page_csv(html, "priority_cells_all_regions.csv");
    ASSERT_EQ(csv.size(), listed + 1);
    EXPECT_EQ(csv[0], (std::vector<std::string>{"cell_id", "region", "lon", "lat", "level", "hazard", "risk_class"}));
    for (size_t n = 0; n < listed; ++n) {
      const size_t i = expected[n];
      ASSERT_EQ(csv[n + 1].size(), 7u);
      EXPECT_EQ(std::stoll(csv[n + 1][0]), c.cell_id[i]);
      EXPECT_EQ(csv[n + 1][1], c.region_names[c.region[i]]);
      EXPECT_NEAR(std::stod(csv[n + 1][2]), c.lonlat[2 * i], 1e-6);
      EXPECT_NEAR(std::stod(csv[n + 1][3]), c.lonlat[2 * i + 1], 1e-6);
      EXPECT_EQ(std::stoi(csv[n + 1][4]), c.level[i]);
      EXPECT_EQ(std::stof(csv[n + 1][5]), c.hazard[i]);
      EXPECT_EQ(std::stoi(csv[n + 1][6]), risk_of(cuts, c.hazard[i]));
    }
    size_t in_regions = 0;
    for (const auto& name : c.region_names) {
      // A region with none of the listed cells has no link.
      if (html.find("download='priority_cells_" + name + ".csv'") == std::string::npos) continue;
      const auto region_csv = page_csv(html, "priority_cells_" + name + ".csv");
      for (size_t n = 1; n < region_csv.size(); ++n) EXPECT_EQ(region_csv[n][1], name);
      in_regions += region_csv.size() - 1;
    }
    EXPECT_EQ(in_regions, listed);
  }
}

TEST(Report, PageShowsEverySectionAndTheInputsItWasGiven) {
  const rt::ReportRun& t = rt::report_run();
  const auto out = t.dir / "report-full";
  auto r = rt::run_report(t, out, "--metrics " + t.metrics + " --explain " + t.explain + " --hazard-unit 'USD per year'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = read_json(out / "report.json");
  const std::string html = rt::read_text(out / "report.html");

  std::vector<std::string> required = {"summary", "contents", "explanations", "relevance-features",
                                       "relevance-systems", "relevance-components", "sensitivity", "evaluation",
                                       "cluster-quality", "classifier", "stability", "baseline",
                                       "external-agreement", "training-curves", "provenance", "schema", "config",
                                       "limits"};
  for (const std::string region : {"all-regions", "region-1", "region-2"})
    for (const std::string part : {"", "-map", "-bivariate", "-levels", "-hazard", "-profile", "-priority"})
      required.push_back(region + part);
  const auto ids = report["section_ids"].get<std::vector<std::string>>();
  for (const auto& id : required) EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  for (const auto& id : ids) EXPECT_EQ(count_of(html, "id='" + id + "'"), 1u) << id;
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "scenarios"), ids.end());  // no scenario summary: no section

  // Self-contained: every link is to the page itself or a data: URI; no scripts, no remote anything.
  // (A scan, not std::regex: libstdc++'s regex recurses per character and a data: URI is long.)
  for (const std::string attribute : {"href=", "src=", "href =", "src ="})
    for (size_t at = html.find(attribute); at != std::string::npos; at = html.find(attribute, at + 1)) {
      std::string target = html.substr(at + attribute.size(), 8);
      if (!target.empty() && (target[0] == '\'' || target[0] == '"')) target = target.substr(1);
      EXPECT_TRUE(target.rfind("#", 0) == 0 || target.rfind("data:", 0) == 0) << target;
    }
  for (const char* banned : {"<script", "url(", "@import", "http://", "https://", "<iframe", "<img"})
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;

  // Metrics, with their plain meanings and the run's own numbers.
  const json metrics = read_json(t.metrics);
  const json& e = metrics["evaluation"];
  EXPECT_NE(html.find("Silhouette"), std::string::npos);
  EXPECT_NE(html.find(fmt::format("{:.3g}", e["silhouette"].get<double>())), std::string::npos);
  EXPECT_NE(html.find(fmt::format("{:.3g}", e["baseline_kmeans"]["ari_planted"].get<double>())), std::string::npos);
  EXPECT_EQ(html.find(">silhouette<"), std::string::npos);  // a meaning, not the raw key
  // The restart agreement is shown with the digits it needs: 0.9998 must not read as 1.
  const double ari_mean = metrics["clusters"]["restart_ari_mean"].get<double>();
  // A window of the page: std::regex recurses per character.
  const std::string window = html.substr(std::min(html.size(), html.find("restarts agree")), 400);
  std::smatch shown;
  ASSERT_TRUE(std::regex_search(window, shown, std::regex("restarts agree[^<]*mean <b>([0-9.]+)</b>")));
  EXPECT_NEAR(std::stod(shown[1]), ari_mean, 5e-4 * (1 - ari_mean) + 5e-4);
  if (ari_mean < 1) EXPECT_NE(shown[1].str(), "1");
  EXPECT_EQ(report["training_metrics"], metrics);

  // Training curves: one chart per stage field of metrics.jsonl, the points as logged.
  std::vector<double> pretrain_loss;
  std::stringstream log(rt::read_text(t.dir / "run" / "metrics.jsonl"));
  for (std::string line; std::getline(log, line);) {
    const json rec = json::parse(line);
    if (rec.value("stage", "") == "pretrain" && rec.contains("loss")) pretrain_loss.push_back(rec["loss"].get<double>());
  }
  ASSERT_TRUE(report.contains("training_curves"));
  const json& curves = report["training_curves"];
  EXPECT_EQ(count_of(html, "<polyline"), curves.size());
  const auto pretrain = std::find_if(curves.begin(), curves.end(), [](const json& c) { return c["stage"] == "pretrain"; });
  ASSERT_NE(pretrain, curves.end());
  ASSERT_EQ((*pretrain)["points"].size(), pretrain_loss.size());
  for (size_t i = 0; i < pretrain_loss.size(); ++i) {
    EXPECT_EQ((*pretrain)["points"][i][0].get<double>(), double(i + 1));
    EXPECT_EQ((*pretrain)["points"][i][1].get<double>(), pretrain_loss[i]);
  }

  // Explanations: the summary's numbers, carried into report.json and shown.
  const json summary = read_json(t.explain);
  EXPECT_EQ(report["explanations"]["relevance"]["levels"], summary["relevance"]["levels"]);
  EXPECT_EQ(report["explanations"]["relevance"]["all"], summary["relevance"]["all"]);
  EXPECT_EQ(report["explanations"]["perturbation"], summary["perturbation"]);
  const json& first = summary["relevance"]["levels"][0]["systems"][0];
  EXPECT_NE(html.find(fmt::format("{:.3g}", first["mean"].get<double>())), std::string::npos);
  const json& sensitivity = summary["perturbation"]["features"][0];
  EXPECT_NE(html.find(fmt::format("{:.1f}%", 100 * sensitivity["plus"]["changed"].get<double>())), std::string::npos);

  // Hazard classes with their unit; the model card.
  EXPECT_NE(html.find("in USD per year"), std::string::npos);
  EXPECT_EQ(report["risk_classes"]["unit"], "USD per year");
  const json& p = report["provenance"];
  EXPECT_EQ(p["resilinet_version"], RESILINET_VERSION);
  EXPECT_TRUE(std::regex_match(p["created_utc"].get<std::string>(), std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")));
  EXPECT_FALSE(p["commit"].get<std::string>().empty());
  EXPECT_EQ(p["metrics_log"], (t.dir / "run" / "metrics.jsonl").string());  // found beside metrics.json
  const Checkpoint ck = read_checkpoint(t.checkpoint);
  EXPECT_EQ(p["config_yaml"], to_yaml(ck.config));
  EXPECT_EQ(p["seed"].get<uint64_t>(), ck.config.seed);
  ASSERT_EQ(p["schema"].size(), ck.model.schema.size());
  for (const auto& f : ck.model.schema.features) {
    EXPECT_NE(html.find(">" + f.name + "<"), std::string::npos) << f.name;
    const std::string unit = std::regex_replace(f.unit, std::regex("'"), "&#39;");  // as the page escapes it
    if (!unit.empty()) EXPECT_NE(html.find(unit), std::string::npos) << unit;
  }
  EXPECT_NE(html.find("not outcome validation"), std::string::npos);
  EXPECT_NE(html.find("relative to the training data"), std::string::npos);
}

TEST(Report, EvaluationMembersAreShownWhenPresentAndOnlyThen) {
  const rt::ReportRun& t = rt::report_run();
  json metrics = read_json(t.metrics);
  json& e = metrics["evaluation"];
  for (const char* key : {"classifier_confusion", "regions", "external_confusion", "spearman_external",
                          "external_cells", "ari_external", "kappa_external"})
    e.erase(key);
  rt::write_text(t.dir / "old_metrics.json", metrics.dump());
  auto r = rt::run_report(t, t.dir / "report-old", "--metrics " + (t.dir / "old_metrics.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string html = rt::read_text(t.dir / "report-old" / "report.html");
  EXPECT_EQ(html.find("Held-out confusion matrix"), std::string::npos);
  EXPECT_EQ(html.find("Per region"), std::string::npos);
  EXPECT_NE(html.find("has no /external_rating"), std::string::npos);
  EXPECT_EQ(html.find("<h3>Training curves</h3><p>From"), std::string::npos);  // no metrics.jsonl beside it

  e["classifier_confusion"] = json::array();
  for (int row = 0; row < 5; ++row) {
    std::vector<int> counts(5, 3);
    counts[row] = 901 + row;
    e["classifier_confusion"].push_back(counts);
  }
  e["regions"] = json::array({json{{"name", "metro-a"}, {"cells", 6000}, {"holdout_cells", 1234}, {"rated_level_cells", {1, 2, 3, 4, 5}},
                                   {"classifier_accuracy", 0.8771}, {"classifier_macro_f1", 0.7652}, {"ari_planted", 0.6543}},
                              json{{"name", "metro-b"}, {"cells", 6000}, {"holdout_cells", 1111}, {"rated_level_cells", {5, 4, 3, 2, 1}},
                                   {"classifier_accuracy", nullptr}, {"classifier_macro_f1", nullptr}}});
  e["spearman_external"] = 0.4321;
  e["ari_external"] = 0.3219;
  e["kappa_external"] = 0.5432;
  e["external_cells"] = 7777;
  e["external_confusion"] = e["classifier_confusion"];
  e["external_confusion"][2][3] = 4242;
  rt::write_text(t.dir / "new_metrics.json", metrics.dump());
  r = rt::run_report(t, t.dir / "report-new", "--metrics " + (t.dir / "new_metrics.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  html = rt::read_text(t.dir / "report-new" / "report.html");
  EXPECT_NE(html.find("Held-out confusion matrix"), std::string::npos);
  EXPECT_NE(html.find("<b>903</b>"), std::string::npos);  // the diagonal, in bold
  EXPECT_NE(html.find("Per region"), std::string::npos);
  for (const char* v : {"0.877", "0.765", "0.654", "1234", "0.432", "0.322", "0.543", "7777", "4242"})
    EXPECT_NE(html.find(v), std::string::npos) << v;
  EXPECT_NE(html.find("External rating against level"), std::string::npos);
  EXPECT_NE(html.find("<td class=l>1 2 3 4 5 </td>"), std::string::npos);  // metro-a's cells per level
  // A region's own scores in its section too.
  const size_t region_a = html.find("id='region-1'"), region_b = html.find("id='region-2'");
  EXPECT_NE(html.substr(region_a, region_b - region_a).find("1234 held-out cells"), std::string::npos);
  EXPECT_EQ(read_json(t.dir / "report-new" / "report.json")["training_metrics"], metrics);
}

TEST(Report, PageSizeDoesNotGrowWithTheCells) {
  const rt::ReportRun& t = rt::report_run();
  // Three times the cells, same schema: the maps are samples and the priority list is capped.
  auto r = rt::run_resilinet("synth --quiet --out " + (t.dir / "data3").string() + " --cells 36000 --regions 2 --seed 6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_report(t, t.dir / "size-1", "--map-points 800 --priority-rows 300");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_resilinet("report --quiet --checkpoint " + t.checkpoint + " --data '" + (t.dir / "data3" / "*.h5").string() +
                        "' --out " + (t.dir / "size-3").string() + " --map-points 800 --priority-rows 300");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string small = rt::read_text(t.dir / "size-1" / "report.html");
  const std::string large = rt::read_text(t.dir / "size-3" / "report.html");
  EXPECT_LT(double(large.size()), 1.15 * double(small.size())) << small.size() << " -> " << large.size();
  EXPECT_LT(rt::read_text(t.dir / "size-3" / "report.json").size(), 1.15 * rt::read_text(t.dir / "size-1" / "report.json").size());
  // Each map draws about --map-points cells: one dot per cell on the risk x resilience maps.
  for (size_t at = large.find("hazard risk against resilience level"); at != std::string::npos;
       at = large.find("hazard risk against resilience level", at + 1)) {
    const size_t dots = count_of(large.substr(at, large.find("</svg>", at) - at), "h0");
    EXPECT_GT(dots, 600u);
    EXPECT_LT(dots, 1000u);
  }
}

// `report --scenarios` shows what `resilinet scenario` wrote: a section per scenario with its
// transition matrix, and the same summary in report.json; a summary for another K is bad input.
TEST(Report, ScenariosSectionShowsTheScenarioSummary) {
  const rt::ReportRun& t = rt::report_run();
  Progress progress("", true);
  const Report report = build_report(read_checkpoint(t.checkpoint), ShardSet::open(t.data), progress);
  EXPECT_EQ(report_html(report, ReportInputs{}).find("id='scenarios'"), std::string::npos);

  const auto dir = rt::scratch_dir();
  rt::write_text(dir / "s.yaml", "scenarios:\n  - name: broadband\n    description: fast internet at levels 1-2\n"
                                 "    edits: [{select: {level: [1, 2]}, set: {internet_speed: 150}}]\n");
  auto r = rt::run_resilinet("scenario --quiet --checkpoint " + t.checkpoint + " --data '" + t.data + "' --scenario " +
                             (dir / "s.yaml").string() + " --out " + (dir / "scenarios").string() + " --target-level 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string summary_path = (dir / "scenarios" / "scenario_summary.json").string();
  r = rt::run_report(t, dir / "report", "--scenarios " + summary_path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json summary = json::parse(rt::read_text(summary_path));
  const json out = json::parse(rt::read_text(dir / "report" / "report.json"));
  EXPECT_EQ(out["scenarios"], summary);
  const auto ids = out["section_ids"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "scenarios"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "scenario-1"), ids.end());
  const std::string html = rt::read_text(dir / "report" / "report.html");
  EXPECT_NE(html.find("Scenario broadband"), std::string::npos);
  EXPECT_NE(html.find("fast internet at levels 1-2"), std::string::npos);
  // The transition matrix's counts, row by row, as the page prints them.
  const json& s = summary["scenarios"][0];
  const std::string section = html.substr(html.find("Scenario broadband"));
  for (const json& row : s["transitions"]) {
    int64_t total = 0;
    for (const json& v : row) total += v.get<int64_t>();
    EXPECT_NE(section.find("<td>" + std::to_string(total) + "</td></tr>"), std::string::npos) << total;
  }
  EXPECT_NE(section.find("Goal seeking"), std::string::npos);

  // A summary made for another number of levels, or of another shape, is bad input; nothing written.
  json other = summary;
  other["levels"] = 4;
  rt::write_text(dir / "other.json", other.dump());
  r = rt::run_report(t, dir / "report-other", "--scenarios " + (dir / "other.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--scenarios levels: expected 5 levels"), std::string::npos) << r.output;
  json broken = summary;
  broken["scenarios"][0].erase("transitions");
  rt::write_text(dir / "broken.json", broken.dump());
  r = rt::run_report(t, dir / "report-other", "--scenarios " + (dir / "broken.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("scenarios[0].transitions"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "report-other"));
}

TEST(Report, WithoutAHazardColumnThePageLeavesOutTheRiskParts) {
  const rt::ReportRun& t = rt::report_run();
  Progress progress("", true);
  Report report = build_report(read_checkpoint(t.checkpoint), ShardSet::open(t.data), progress);
  // As build_report leaves a report of shards without /hazard.
  report.has_hazard = false;
  report.hazard_cuts.clear();
  report.priority.clear();
  for (RegionReport* g : {&report.all, &report.regions[0], &report.regions[1]}) {
    g->risk_levels.clear();
    g->priority_cells = 0;
    for (MapPoint& p : g->map) p.risk = 0, p.priority = false;
  }
  const ReportInputs inputs;
  const auto ids = report_section_ids(report, inputs);
  for (const std::string id : {"all-regions-bivariate", "all-regions-priority", "region-1-bivariate", "region-2-priority"})
    EXPECT_EQ(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  for (const std::string id : {"all-regions-map", "all-regions-hazard", "region-2-profile"})
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  const std::string html = report_html(report, inputs);
  EXPECT_NE(html.find("no hazard column"), std::string::npos);
  EXPECT_EQ(html.find("ringed"), std::string::npos);  // no priority ring in the legend
  const json j = report_json(report, inputs);
  EXPECT_FALSE(j.contains("priority_list"));
  EXPECT_FALSE(j["all_regions"].contains("risk_by_level"));
}

TEST(Report, BadInputExitsWithTwoAndWritesNothing) {
  const rt::ReportRun& t = rt::report_run();
  const auto out = t.dir / "bad";
  const auto expect_bad = [&](const std::string& options, const std::string& named) {
    SCOPED_TRACE(options);
    const auto r = rt::run_report(t, out, options);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(named), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out / "report.html"));
    EXPECT_FALSE(std::filesystem::exists(out / "report.json"));
  };
  auto r = rt::run_resilinet("report --checkpoint " + (t.dir / "none.h5").string() + " --data '" + t.data +
                             "' --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("none.h5"), std::string::npos) << r.output;
  rt::write_text(t.dir / "broken.json", "{\"evaluation\": ");
  expect_bad("--metrics " + (t.dir / "broken.json").string(), "broken.json");

  // Optional members of metrics.json, checked when present.
  const json metrics = read_json(t.metrics);
  json bad = metrics;
  bad["evaluation"]["classifier_confusion"] = json::array({json::array({1, 2}), json::array({3})});
  rt::write_text(t.dir / "bad_confusion.json", bad.dump());
  expect_bad("--metrics " + (t.dir / "bad_confusion.json").string(), "evaluation.classifier_confusion[1]");
  bad = metrics;
  bad["evaluation"]["regions"] = json::array({json{{"cells", 3}}});
  rt::write_text(t.dir / "bad_regions.json", bad.dump());
  expect_bad("--metrics " + (t.dir / "bad_regions.json").string(), "evaluation.regions[0].name");
  bad = metrics;
  bad["evaluation"]["spearman_external"] = "high";
  rt::write_text(t.dir / "bad_spearman.json", bad.dump());
  expect_bad("--metrics " + (t.dir / "bad_spearman.json").string(), "evaluation.spearman_external");

  // The members of explain_summary.json the page reads.
  const json summary = read_json(t.explain);
  json bad_summary = summary;
  bad_summary["perturbation"]["features"][0].erase("plus");
  rt::write_text(t.dir / "bad_plus.json", bad_summary.dump());
  expect_bad("--explain " + (t.dir / "bad_plus.json").string(), "perturbation.features[0].plus");
  bad_summary = summary;
  bad_summary["relevance"]["levels"][1]["systems"][0]["mean"] = "large";
  rt::write_text(t.dir / "bad_mean.json", bad_summary.dump());
  expect_bad("--explain " + (t.dir / "bad_mean.json").string(), "relevance.levels[1].systems[0].mean");
  bad_summary = summary;
  bad_summary["relevance"]["all"]["features"] = 3;
  rt::write_text(t.dir / "bad_all.json", bad_summary.dump());
  expect_bad("--explain " + (t.dir / "bad_all.json").string(), "relevance.all.features");

  // metrics.jsonl: a line that does not parse, and one of the wrong shape, named by number.
  rt::write_text(t.dir / "bad_log.jsonl", "{\"stage\": \"pretrain\", \"epoch\": 1, \"loss\": 0.5}\n{\"stage\": \n");
  expect_bad("--metrics-log " + (t.dir / "bad_log.jsonl").string(), "line 2");
  rt::write_text(t.dir / "bad_loss.jsonl", "{\"stage\": \"pretrain\", \"epoch\": 1, \"loss\": \"low\"}\n");
  expect_bad("--metrics-log " + (t.dir / "bad_loss.jsonl").string(), "line 1.loss");
  expect_bad("--metrics-log " + (t.dir / "missing.jsonl").string(), "missing.jsonl");
}

// The roll-ups on the page are rate's: report.json's `rollups` equals the rollup.json that `rate`
// writes for the same checkpoint and data, and every grouping of the data has its table.
TEST(Report, RollupsEqualRatesRollupFile) {
  const rt::ReportRun& t = rt::report_run();
  const auto dir = rt::scratch_dir();
  auto r = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + t.checkpoint + " --data '" + t.data +
                             "' --out " + (dir / "ratings").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_report(t, dir / "report");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json rate_rollup = json::parse(rt::read_text(dir / "ratings" / "rollup.json"));
  const json report = json::parse(rt::read_text(dir / "report" / "report.json"));
  EXPECT_EQ(report["rollups"], rate_rollup);
  const auto ids = report["section_ids"].get<std::vector<std::string>>();
  for (const json& kind : rate_rollup["kinds"])
    EXPECT_NE(std::find(ids.begin(), ids.end(), "rollup-" + kind["kind"].get<std::string>()), ids.end()) << kind;
  EXPECT_GE(rate_rollup["kinds"].size(), 2u);  // regions and synth's districts
}

// More regions than --region-sections: a section and maps only for the regions with the most cells
// (here the second and the fourth, not the first two); every region's numbers stay in report.json,
// the same as with a section each, and all regions together are unchanged.
TEST(Report, RegionsBeyondTheSectionsAreCountedButNotDrawn) {
  const rt::ReportRun& t = rt::report_run();
  const ShardSet source = ShardSet::open(t.data);
  const size_t F = source.schema().size();
  const auto dir = rt::scratch_dir();
  {
    // The run's cells in four regions of 10%, 40%, 20% and 30% of them, by row number.
    const uint32_t region_of_row[10] = {0, 1, 1, 1, 1, 2, 2, 3, 3, 3};
    ShardWriterOptions o;
    o.has_hazard = true;
    std::filesystem::create_directories(dir / "data");
    ShardWriter w((dir / "data" / "part.h5").string(), source.schema(), {"r1", "r2", "r3", "r4"}, o);
    size_t row = 0;
    for_each_scaled_batch(source, 65536, nullptr, 4096, [&](const Batch& b, const float*) {
      ShardColumns c;
      c.resize(b.rows, F, true, false, false);
      std::copy(b.x, b.x + b.rows * F, c.features.begin());
      std::copy(b.cell_id, b.cell_id + b.rows, c.cell_id.begin());
      std::copy(b.lonlat, b.lonlat + 2 * b.rows, c.lonlat.begin());
      std::copy(b.hazard, b.hazard + b.rows, c.hazard.begin());
      for (size_t i = 0; i < b.rows; ++i) c.region[i] = region_of_row[(row + i) % 10];
      row += b.rows;
      w.append(c);
    });
    w.commit();
  }
  const std::string data = (dir / "data" / "*.h5").string();
  for (const std::string options : {"", "--region-sections 2"}) {
    const auto r = rt::run_resilinet("report --quiet --checkpoint " + t.checkpoint + " --data '" + data + "' --out " +
                                     (dir / (options.empty() ? "every" : "two")).string() + " " + options);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const json every = read_json(dir / "every" / "report.json"), two = read_json(dir / "two" / "report.json");
  EXPECT_EQ(two["all_regions"], every["all_regions"]);
  const std::string html = rt::read_text(dir / "two" / "report.html");
  ASSERT_EQ(two["regions"].size(), 4u);
  for (size_t g = 0; g < 4; ++g) {
    SCOPED_TRACE("region " + std::to_string(g + 1));
    const bool drawn = g == 1 || g == 3;
    EXPECT_EQ(every["regions"][g]["section"], true);
    EXPECT_EQ(two["regions"][g]["section"], drawn);
    EXPECT_EQ(two["regions"][g]["map"]["kind"], drawn ? every["regions"][g]["map"]["kind"] : json("none"));
    for (const char* key : {"cells", "level_cells", "feature_profile", "feature_means", "risk_by_level", "priority_cells"})
      EXPECT_EQ(two["regions"][g][key], every["regions"][g][key]) << key;
    const std::string id = "id='region-" + std::to_string(g + 1);
    EXPECT_EQ(count_of(html, id + "'"), drawn ? 1u : 0u);
    EXPECT_EQ(count_of(html, id + "-map'"), drawn ? 1u : 0u);
  }
  EXPECT_NE(html.find("The 2 regions with the most cells have a section"), std::string::npos);
  EXPECT_LT(html.size(), rt::read_text(dir / "every" / "report.html").size());
}
