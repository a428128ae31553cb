// The shape checks of the report's JSON inputs (trainer/report/report.hpp): every member the page or
// report.json reads is checked here, before anything is written, so that a hand-edited or foreign
// file is bad input naming its member, never a crash or a silently empty section. Members the report
// does not read are not checked.
#include <limits>
#include <set>

#include "datasets/input_error.hpp"
#include "trainer/report/report.hpp"

namespace resilinet {
namespace {

using nlohmann::json;

std::string json_kind(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "a list";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "true or false";
  if (v.is_number()) return "a number";
  return "null";
}

bool is_object(const json& v) { return v.is_object(); }
bool is_list(const json& v) { return v.is_array(); }
bool is_string(const json& v) { return v.is_string(); }
bool is_number(const json& v) { return v.is_number(); }
bool is_bool(const json& v) { return v.is_boolean(); }
// metrics.json and explain_summary.json hold null for a value that is not finite or not defined.
bool is_number_or_null(const json& v) { return v.is_number() || v.is_null(); }
bool is_count(const json& v) { return v.is_number() && v.get<double>() >= 0; }
bool is_level(const json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= std::numeric_limits<int32_t>::max();
}

std::string at_index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Checks a JSON input member by member; messages name the file, the option and the member's path.
class JsonShape {
 public:
  JsonShape(const std::string& file, const std::string& option) : file_(file), option_(option) {}

  // The member `key` of the object at `path`: nullptr when absent and not required, else checked by `ok`.
  const json* member(const json& object, const std::string& path, const std::string& key, const char* expected,
                     bool (*ok)(const json&), bool required = false) const {
    const std::string at = path.empty() ? key : path + "." + key;
    const auto it = object.find(key);
    if (it == object.end()) {
      if (required) throw InputError(file_, option_ + " " + at, expected, "nothing");
      return nullptr;
    }
    return &check(*it, at, expected, ok);
  }
  const json& check(const json& v, const std::string& at, const char* expected, bool (*ok)(const json&)) const {
    if (!ok(v)) throw InputError(file_, option_ + " " + at, expected, json_kind(v));
    return v;
  }
  // An optional list whose every item passes `ok`.
  void list_of(const json& object, const std::string& path, const std::string& key, const char* expected,
               bool (*ok)(const json&)) const {
    const json* list = member(object, path, key, "a list", is_list);
    const std::string at = path.empty() ? key : path + "." + key;
    for (size_t i = 0; list && i < list->size(); ++i) check((*list)[i], at_index(at, i), expected, ok);
  }
  // An optional square table of cell counts (a list of rows of equal length).
  void count_table(const json& object, const std::string& path, const std::string& key) const {
    const json* rows = member(object, path, key, "a square table (a list of rows of counts)", is_list);
    const std::string at = path + "." + key;
    for (size_t r = 0; rows && r < rows->size(); ++r) {
      const json& row = check((*rows)[r], at_index(at, r), "a list of counts", is_list);
      if (row.size() != rows->size())
        throw InputError(file_, option_ + " " + at_index(at, r), std::to_string(rows->size()) + " counts (a square table)",
                         std::to_string(row.size()));
      for (size_t c = 0; c < row.size(); ++c) check(row[c], at_index(at_index(at, r), c), "a count (a number >= 0)", is_count);
    }
  }
  // Optional members that are each a number or null.
  void numbers(const json& object, const std::string& path, std::initializer_list<const char*> keys) const {
    for (const char* key : keys) member(object, path, key, "a number or null", is_number_or_null);
  }

 private:
  const std::string& file_;
  const std::string& option_;
};

void check_per_region_metrics(const JsonShape& shape, const json& evaluation) {
  const json* regions = shape.member(evaluation, "evaluation", "regions", "a list of regions", is_list);
  for (size_t i = 0; regions && i < regions->size(); ++i) {
    const std::string at = at_index("evaluation.regions", i);
    const json& region = shape.check((*regions)[i], at, "an object", is_object);
    shape.member(region, at, "name", "a string", is_string, true);
    shape.member(region, at, "cells", "a count", is_count);
    shape.member(region, at, "holdout_cells", "a count", is_count);
    shape.list_of(region, at, "rated_level_cells", "a count", is_count);
    shape.list_of(region, at, "level_cells", "a count", is_count);
    shape.numbers(region, at, {"classifier_accuracy", "classifier_macro_f1", "ari_planted"});
  }
}

// A relevance group list (features, systems or components) of one level or of all cells.
void check_relevance_groups(const JsonShape& shape, const json& level, const std::string& at) {
  for (const char* key : {"features", "systems", "components"}) {
    const json* list = shape.member(level, at, key, "a list", is_list);
    for (size_t k = 0; list && k < list->size(); ++k) {
      const std::string item = at_index(at + "." + key, k);
      const json& t = shape.check((*list)[k], item, "an object", is_object);
      shape.member(t, item, "name", "a string", is_string, true);
      shape.member(t, item, "mean", "a number or null", is_number_or_null, true);
      shape.member(t, item, "mean_abs", "a number or null", is_number_or_null, true);
      if (std::string(key) == "features") {
        shape.member(t, item, "system", "a string", is_string);
        shape.member(t, item, "component", "a string", is_string);
      }
    }
  }
}

void check_perturbation(const JsonShape& shape, const json& explanations) {
  const json* p = shape.member(explanations, "", "perturbation", "an object (the sensitivity summary)", is_object);
  if (!p) return;
  shape.member(*p, "perturbation", "delta", "a number", is_number, true);
  shape.member(*p, "perturbation", "cells", "a count", is_count);
  const json* features = shape.member(*p, "perturbation", "features", "a list of features", is_list, true);
  for (size_t i = 0; i < features->size(); ++i) {
    const std::string at = at_index("perturbation.features", i);
    const json& f = shape.check((*features)[i], at, "an object", is_object);
    shape.member(f, at, "name", "a string", is_string, true);
    for (const char* sign : {"plus", "minus"}) {
      const std::string side = at + "." + sign;
      const json& s = *shape.member(f, at, sign, "an object (shares of cells)", is_object, true);
      for (const char* share : {"changed", "up", "down"}) shape.member(s, side, share, "a number", is_number, true);
    }
  }
}

}  // namespace

void check_report_metrics(const json& metrics, const std::string& file, const std::string& option) {
  if (metrics.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(metrics, "<top level>", "an object (metrics.json of a training run)", is_object);
  if (const json* c = shape.member(metrics, "", "clusters", "an object", is_object)) {
    shape.member(*c, "clusters", "space", "a string", is_string);
    shape.list_of(*c, "clusters", "warnings", "a string", is_string);
    shape.numbers(*c, "clusters", {"restarts", "sample_cells", "restart_ari_mean", "restart_ari_min"});
  }
  const json* e = shape.member(metrics, "", "evaluation", "an object", is_object);
  if (!e) return;
  shape.numbers(*e, "evaluation",
                {"silhouette", "calinski_harabasz", "davies_bouldin", "reconstruction_mse", "ari_planted",
                 "ari_external", "kappa_external", "spearman_external", "external_cells", "classifier_accuracy",
                 "classifier_macro_f1", "classifier_agreement_all_cells", "cells", "holdout_cells",
                 "cluster_quality_sample_cells"});
  shape.member(*e, "evaluation", "level_order_consistent", "true or false", is_bool);
  shape.list_of(*e, "evaluation", "rated_level_scores", "a number or null", is_number_or_null);
  shape.count_table(*e, "evaluation", "classifier_confusion");
  shape.count_table(*e, "evaluation", "external_confusion");
  check_per_region_metrics(shape, *e);
  if (const json* b = shape.member(*e, "evaluation", "baseline_kmeans", "an object", is_object)) {
    shape.numbers(*b, "evaluation.baseline_kmeans",
                  {"ari_model", "ari_planted", "ari_external", "kappa_external", "spearman_external",
                   "same_level_as_model"});
    shape.member(*b, "evaluation.baseline_kmeans", "method", "a string", is_string);
    shape.list_of(*b, "evaluation.baseline_kmeans", "level_cells", "a count", is_count);
  }
}

void check_report_explanations(const json& explanations, const std::string& file, const std::string& option) {
  if (explanations.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(explanations, "<top level>", "an object (explain_summary.json of `resilinet explain`)", is_object);
  shape.member(explanations, "", "composite", "a string (the LRP rules)", is_string);
  const json* relevance = shape.member(explanations, "", "relevance", "an object (the relevance summary)", is_object, true);
  const json* levels = shape.member(*relevance, "relevance", "levels", "a list of levels", is_list, true);
  for (size_t i = 0; i < levels->size(); ++i) {
    const std::string at = at_index("relevance.levels", i);
    const json& level = shape.check((*levels)[i], at, "an object", is_object);
    shape.member(level, at, "level", "an integer level from 1", is_level, true);
    shape.member(level, at, "cells", "a count", is_count);
    const json* top = shape.member(level, at, "top_features", "a list of features", is_list);
    for (size_t k = 0; top && k < top->size(); ++k) {
      const std::string feature = at_index(at + ".top_features", k);
      const json& t = shape.check((*top)[k], feature, "an object", is_object);
      shape.member(t, feature, "name", "a string", is_string, true);
      shape.member(t, feature, "mean_abs", "a number", is_number, true);
    }
    check_relevance_groups(shape, level, at);
  }
  if (const json* all = shape.member(*relevance, "relevance", "all", "an object (all cells)", is_object))
    check_relevance_groups(shape, *all, "relevance.all");
  check_perturbation(shape, explanations);
}

void check_report_training_log(const json& records, const std::string& file, const std::string& option) {
  if (records.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(records, "<lines>", "a list of records", is_list);
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string at = "line " + std::to_string(i + 1);
    const json& r = shape.check(records[i], at, "a JSON object", is_object);
    shape.member(r, at, "stage", "a string", is_string);
    shape.numbers(r, at, {"epoch", "step", "steps", "loss"});
  }
}

void check_report_scenarios(const nlohmann::json& summary, int levels, const std::string& file,
                            const std::string& option) {
  if (summary.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(summary, "<top level>", "an object (scenario_summary.json of `resilinet scenario`)", is_object);
  const json* levels_given = shape.member(summary, "", "levels", "the number of levels", is_level, true);
  if (levels_given->get<int64_t>() != levels)
    throw InputError(file, option + " levels", std::to_string(levels) + " levels, as the checkpoint",
                     std::to_string(levels_given->get<int64_t>()));
  shape.member(summary, "", "target_level", "a level or null", [](const json& v) { return v.is_null() || is_level(v); });
  const json* list = shape.member(summary, "", "scenarios", "a list of scenarios", is_list, true);
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = at_index("scenarios", i);
    const json& s = shape.check((*list)[i], at, "an object", is_object);
    shape.member(s, at, "name", "a string", is_string, true);
    shape.member(s, at, "description", "a string", is_string);
    for (const char* key : {"cells_edited", "improved", "same", "worse", "out_of_range_cells"})
      shape.member(s, at, key, "a count (a number >= 0)", is_count, true);
    shape.count_table(s, at, "transitions");
    const json& t = *shape.member(s, at, "transitions", "a square table", is_list, true);
    if (int64_t(t.size()) != levels)
      throw InputError(file, option + " " + at + ".transitions", std::to_string(levels) + " rows",
                       std::to_string(t.size()));
    if (const json* regions = shape.member(s, at, "regions", "a list", is_list))
      for (size_t r = 0; r < regions->size(); ++r) {
        const std::string rat = at_index(at + ".regions", r);
        const json& g = shape.check((*regions)[r], rat, "an object", is_object);
        shape.member(g, rat, "name", "a string", is_string, true);
        for (const char* key : {"cells_edited", "improved", "same", "worse"})
          shape.member(g, rat, key, "a count (a number >= 0)", is_count, true);
      }
    if (const json* features = shape.member(s, at, "edited_features", "a list", is_list))
      for (size_t f = 0; f < features->size(); ++f) {
        const std::string fat = at_index(at + ".edited_features", f);
        const json& e = shape.check((*features)[f], fat, "an object", is_object);
        shape.member(e, fat, "name", "a string", is_string, true);
        for (const char* key : {"cells", "out_of_range_cells"}) shape.member(e, fat, key, "a count", is_count, true);
        shape.numbers(e, fat, {"relevance_before", "relevance_after"});
      }
    if (const json* goal = shape.member(s, at, "goal", "an object", is_object)) {
      shape.member(*goal, at + ".goal", "target_level", "a level", is_level, true);
      for (const char* key : {"cells", "reached", "already_at_target", "not_reachable"})
        shape.member(*goal, at + ".goal", key, "a count", is_count, true);
      if (const json* by = shape.member(*goal, at + ".goal", "by_feature", "an object", is_object))
        for (const auto& [name, count] : by->items())
          shape.check(count, at + ".goal.by_feature." + name, "a count", is_count);
    }
  }
}

void check_report_variants(const json& variants, const std::string& file, const std::string& option) {
  if (variants.is_null()) return;
  const JsonShape shape(file, option);
  shape.check(variants, "<top level>", "an object (variants.json of `resilinet bench --variants`)", is_object);
  const json* format = shape.member(variants, "", "format", "the string resilinet-variants", is_string, true);
  if (*format != "resilinet-variants")
    throw InputError(file, option + " format", "resilinet-variants", "'" + format->get<std::string>() + "'");
  const json* version = shape.member(variants, "", "format_version", "1", is_number, true);
  if (!version->is_number_integer() || version->get<int64_t>() != 1)
    throw InputError(file, option + " format_version", "1", version->dump());
  shape.member(variants, "", "data", "a string", is_string);
  shape.member(variants, "", "cells", "a count", is_count);
  shape.list_of(variants, "", "seeds", "a number", is_number);
  const json* metrics = shape.member(variants, "", "metrics", "a list of metrics", is_list, true);
  std::set<std::string> keys;
  for (size_t i = 0; i < metrics->size(); ++i) {
    const std::string at = at_index("metrics", i);
    const json& m = shape.check((*metrics)[i], at, "an object", is_object);
    const std::string key = shape.member(m, at, "key", "a string", is_string, true)->get<std::string>();
    if (key.empty() || !keys.insert(key).second)
      throw InputError(file, option + " " + at + ".key", "a metric key not empty and not used before", "'" + key + "'");
    shape.member(m, at, "label", "a string", is_string);
    const json* better = shape.member(m, at, "better", "lower or higher", is_string, true);
    if (*better != "lower" && *better != "higher")
      throw InputError(file, option + " " + at + ".better", "lower or higher", "'" + better->get<std::string>() + "'");
  }
  const json* list = shape.member(variants, "", "variants", "a list of variants", is_list, true);
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = at_index("variants", i);
    const json& v = shape.check((*list)[i], at, "an object", is_object);
    shape.member(v, at, "name", "a string", is_string, true);
    shape.member(v, at, "file", "a string", is_string);
    shape.member(v, at, "description", "a string", is_string);
    if (const json* kind = shape.member(v, at, "kind", "network or baseline", is_string))
      if (*kind != "network" && *kind != "baseline")
        throw InputError(file, option + " " + at + ".kind", "network or baseline", "'" + kind->get<std::string>() + "'");
    const json* summary = shape.member(v, at, "summary", "an object (a summary per metric)", is_object, true);
    for (const std::string& key : keys) {
      const std::string sat = at + ".summary." + key;
      const json* value = shape.member(*summary, at + ".summary", key, "an object {mean, sd, n} or null",
                                       [](const json& x) { return x.is_null() || x.is_object(); });
      if (!value || value->is_null()) continue;
      shape.member(*value, sat, "mean", "a number", is_number, true);
      shape.member(*value, sat, "sd", "a number or null", is_number_or_null);
      shape.member(*value, sat, "n", "a count", is_count);
    }
  }
}

}  // namespace resilinet
