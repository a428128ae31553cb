// The evidence sections of report.html (trainer/report/report_html_parts.hpp), from metrics.json and
// metrics.jsonl of the training run: cluster quality, the classifier head's held-out scores, the
// stability of the clustering and the k-means baseline, agreement with an external rating, and the
// training curves. Every metric is shown with a plain meaning; members missing from an older
// metrics.json are left out, never shown as zero. Shapes are checked by check_report_metrics.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

using nlohmann::json;

struct Meaning {
  const char* key;
  const char* label;
  const char* meaning;
};

constexpr Meaning kClusterQuality[] = {
    {"silhouette", "Silhouette",
     "How much closer each cell is to its own level than to the nearest other level, in the clustering space: "
     "-1 to 1, higher is better; above 0.5 the levels are clearly apart."},
    {"calinski_harabasz", "Calinski-Harabasz index",
     "Spread between the levels over the spread within them: higher is better; it has no fixed scale, so compare "
     "runs on the same data only."},
    {"davies_bouldin", "Davies-Bouldin index",
     "How much each level overlaps the level most like it: 0 is best; below 1 the levels are well separated."},
    {"reconstruction_mse", "Reconstruction error (MSE)",
     "Mean squared error of the encoder's reconstruction of the scaled features: how well it infers a cell's "
     "features from the rest of its row; lower is better."},
    {"ari_planted", "Agreement with the planted levels (ARI)",
     "Synthetic data only: adjusted Rand index between the levels and the levels the generator planted; 1 = the "
     "same partition, 0 = chance."},
    {"level_order_consistent", "Level order holds",
     "Whether the mean direction-signed feature score rises from level 1 to the top level, as the ordering rule "
     "intends."},
    {"cluster_quality_sample_cells", "Cells in the quality sample",
     "How many cells the silhouette, Calinski-Harabasz and Davies-Bouldin indices were computed on."},
    {"cells", "Cells evaluated", "Cells of the data the run was trained and evaluated on."},
};

constexpr Meaning kClassifier[] = {
    {"classifier_accuracy", "Held-out accuracy",
     "Share of the held-out cells (never trained on) that the classifier head puts at the same level as the "
     "clustering."},
    {"classifier_macro_f1", "Held-out macro-F1",
     "F1 score of the head on the held-out cells, averaged over the levels so that each level counts the same: "
     "0 to 1, higher is better."},
    {"classifier_agreement_all_cells", "Agreement on all cells",
     "Share of all cells where the head and the clustering give the same level."},
    {"holdout_cells", "Held-out cells", "Cells kept out of the head's training (by hashed cell id) to score it."},
};

constexpr Meaning kExternal[] = {
    {"external_cells", "Cells with an external rating", "Cells whose /external_rating is 1..5 (0 means none)."},
    {"ari_external", "Agreement (ARI)",
     "Adjusted Rand index between the levels and the external rating: 1 = the same grouping, 0 = chance; it "
     "ignores the order of the levels."},
    {"kappa_external", "Weighted kappa",
     "Cohen's kappa with quadratic weights: 1 = identical ratings, 0 = chance; a near miss counts as partly "
     "right."},
    {"spearman_external", "Rank correlation (Spearman)",
     "-1 to 1: whether cells rated higher outside are also at higher levels here."},
};

const json& evaluation_of(const json& metrics) {
  static const json empty = json::object();
  return metrics.contains("evaluation") ? metrics["evaluation"] : empty;
}

std::string value_text(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "<b>no</b>";
  return number(v);
}

// Rows of the known metrics present in `object`; `shown` collects their keys.
void meaning_rows(Page& page, const json& object, const Meaning* begin, const Meaning* end, std::set<std::string>& shown) {
  page << "<table><tr><th class=l>measure</th><th>value</th><th class=l>what it means</th></tr>";
  for (const Meaning* m = begin; m != end; ++m) {
    if (!object.contains(m->key)) continue;
    shown.insert(m->key);
    page << fmt::format("<tr><th class=l>{}</th><td>{}</td><td class=l>{}</td></tr>", m->label,
                        value_text(object[m->key]), m->meaning);
  }
  page << "</table>";
}

void cluster_quality(Page& page, const json& metrics, std::set<std::string>& shown) {
  const json& e = evaluation_of(metrics);
  page.open("cluster-quality", "Cluster quality", 3);
  meaning_rows(page, e, std::begin(kClusterQuality), std::end(kClusterQuality), shown);
  if (e.contains("rated_level_scores")) {
    shown.insert("rated_level_scores");
    page << "<p>Level scores (mean direction-signed scaled feature, the ordering rule; they should rise): ";
    for (const json& s : e["rated_level_scores"]) page << number(s) << " ";
    page << "</p>";
  }
  page.close();
}

void classifier(Page& page, const json& metrics, std::set<std::string>& shown) {
  const json& e = evaluation_of(metrics);
  page.open("classifier", "Classifier head", 3);
  page << "<p>The head rates new cells; it is scored against the cluster levels on cells it never trained on.</p>";
  meaning_rows(page, e, std::begin(kClassifier), std::end(kClassifier), shown);
  if (e.contains("classifier_confusion")) {
    shown.insert("classifier_confusion");
    page << "<h4>Held-out confusion matrix</h4>";
    count_table(page, e["classifier_confusion"], "cluster level", "classifier level");
  }
  if (e.contains("regions")) {
    shown.insert("regions");
    const json& regions = e["regions"];
    const bool planted = std::any_of(regions.begin(), regions.end(), [](const json& r) { return r.contains("ari_planted"); });
    page << "<h4>Per region</h4><table><tr><th class=l>region</th><th>cells</th><th>held-out cells</th>"
            "<th>accuracy</th><th>macro-F1</th>"
         << (planted ? "<th>ARI planted</th>" : "") << "<th class=l>cells per level</th></tr>";
    for (const json& r : regions) {
      page << fmt::format("<tr><th class=l>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                          escape(r["name"].get<std::string>()), number(r.value("cells", json())),
                          number(r.value("holdout_cells", json())), number(r.value("classifier_accuracy", json())),
                          number(r.value("classifier_macro_f1", json())));
      if (planted) page << fmt::format("<td>{}</td>", number(r.value("ari_planted", json())));
      std::string cells;
      for (const json& c : r.value("rated_level_cells", r.value("level_cells", json::array()))) cells += number(c) + " ";
      page << fmt::format("<td class=l>{}</td></tr>", cells);
    }
    page << "</table><p class=note>A region with few held-out cells has noisy scores.</p>";
  }
  page.close();
}

void stability_and_baseline(Page& page, const json& metrics, std::set<std::string>& shown) {
  page.open("stability", "Stability across restarts", 3);
  if (metrics.contains("clusters")) {
    const json& c = metrics["clusters"];
    page << fmt::format("<p>The clustering ran <b>{}</b> restarts (k-means on parts of a sample of {} cells, in the "
                        "{} space) and kept the consensus. How much the restarts agree with each other (adjusted "
                        "Rand index, 1 = identical partitions): mean <b>{}</b>, lowest <b>{}</b>. Low agreement "
                        "means another seed could draw other levels.</p>",
                        number(c.value("restarts", json())), number(c.value("sample_cells", json())),
                        escape(c.value("space", "?")), number(c.value("restart_ari_mean", json())),
                        number(c.value("restart_ari_min", json())));
    for (const json& w : c.value("warnings", json::array()))
      page << fmt::format("<p class=prio>Warning: {}</p>", escape(w.get<std::string>()));
  } else {
    page << "<p class=note>metrics.json has no clusters section.</p>";
  }
  page.close();

  const json& e = evaluation_of(metrics);
  page.open("baseline", "Against the k-means baseline", 3);
  if (!e.contains("baseline_kmeans")) {
    page << "<p class=note>metrics.json has no baseline.</p>";
    page.close();
    return;
  }
  shown.insert("baseline_kmeans");
  const json& b = e["baseline_kmeans"];
  page << fmt::format("<p>Every run also rates the cells with {}: what the model adds shows in the rows below.</p>",
                      escape(b.value("method", "k-means on the scaled features")));
  page << "<table><tr><th class=l>measure</th><th>model</th><th>k-means baseline</th><th class=l>meaning</th></tr>";
  page << fmt::format("<tr><th class=l>agreement with each other (ARI)</th><td colspan=2>{}</td><td class=l>1: the "
                      "baseline draws the same levels, so the model adds little</td></tr>",
                      number(b.value("ari_model", json())));
  if (b.contains("same_level_as_model"))
    page << fmt::format("<tr><th class=l>cells at the same level</th><td colspan=2>{}</td><td class=l>share of cells "
                        "the two put at the same level</td></tr>",
                        percent(b["same_level_as_model"].is_number() ? b["same_level_as_model"].get<double>() : std::nan("")));
  const std::pair<const char*, const char*> rows[] = {
      {"ari_planted", "ARI against the planted levels"},
      {"ari_external", "ARI against the external rating"},
      {"kappa_external", "weighted kappa against the external rating"},
      {"spearman_external", "rank correlation with the external rating"}};
  for (const auto& [key, label] : rows)
    if (b.contains(key))
      page << fmt::format("<tr><th class=l>{}</th><td>{}</td><td>{}</td><td class=l>higher is closer</td></tr>", label,
                          number(e.value(key, json())), number(b[key]));
  page << "</table>";
  if (b.contains("level_cells")) {
    page << "<p>Cells per level, baseline: ";
    for (const json& c : b["level_cells"]) page << number(c) << " ";
    page << "</p>";
  }
  page.close();
}

void external_agreement(Page& page, const json& metrics, std::set<std::string>& shown) {
  const json& e = evaluation_of(metrics);
  page.open("external-agreement", "Agreement with the external rating", 3);
  page << fmt::format("<p class=limit>{}</p>", kLimitExternal);
  const bool any = std::any_of(std::begin(kExternal), std::end(kExternal),
                               [&](const Meaning& m) { return e.contains(m.key); }) ||
                   e.contains("external_confusion");
  if (!any) {
    page << "<p class=note>The training data has no /external_rating: nothing to compare with.</p>";
    page.close();
    return;
  }
  meaning_rows(page, e, std::begin(kExternal), std::end(kExternal), shown);
  if (e.contains("external_confusion")) {
    shown.insert("external_confusion");
    page << "<h4>External rating against level</h4>";
    count_table(page, e["external_confusion"], "external rating", "rated level");
  }
  page.close();
}

void training_curves_section(Page& page, const json& training_log) {
  page.open("training-curves", "Training curves", 3);
  const std::vector<TrainingCurve> curves = training_curves(training_log);
  if (curves.empty()) {
    page << "<p class=note>No training log: metrics.jsonl beside metrics.json, or "
            "<code>report --metrics-log</code>.</p>";
  } else {
    page << "<p>From metrics.jsonl, per stage (the last record of an epoch wins where a resumed run repeated it). A "
            "loss that still falls at the end suggests more epochs; one that jumps suggests a learning rate too "
            "high.</p><div class=row>";
    for (const TrainingCurve& c : curves) page << line_chart_svg(c);
    page << "</div>";
  }
  page.close();
}

// Scalar members of evaluation that no row above explains, so that nothing in metrics.json is hidden.
void other_metrics(Page& page, const json& metrics, const std::set<std::string>& shown) {
  const json& e = evaluation_of(metrics);
  std::string rows;
  for (const auto& [key, value] : e.items())
    if (!shown.count(key) && (value.is_number() || value.is_boolean()))
      rows += fmt::format("<tr><th class=l>{}</th><td>{}</td></tr>", escape(key), value_text(value));
  if (!rows.empty())
    page << "<details><summary>Other values in metrics.json (evaluation)</summary><table>" << rows
         << "</table></details>";
}

}  // namespace

void evidence_sections(Page& page, const Report&, const json& metrics, const json& training_log) {
  page.open("evaluation", "How far to trust the levels");
  if (metrics.is_null()) {
    page << "<p class=note>No training metrics given (<code>report --metrics RUN/metrics.json</code>): the "
            "page cannot show how well the levels separate, how stable they are or how the head scores.</p>";
  } else {
    std::set<std::string> shown;
    cluster_quality(page, metrics, shown);
    classifier(page, metrics, shown);
    stability_and_baseline(page, metrics, shown);
    external_agreement(page, metrics, shown);
    other_metrics(page, metrics, shown);
  }
  training_curves_section(page, training_log);
  page.close();
}

}  // namespace resilinet::report_page
