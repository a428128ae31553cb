// Variant files: strict keys, and the `config:` overlay merged into the base config's YAML so that
// the training config reader checks the result exactly as it checks a config file.
#include "trainer/bench/variant_file.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "datasets/input_error.hpp"
#include "datasets/yaml_keys.hpp"
#include "trainer/stages/baseline_rating.hpp"

namespace resilinet {
namespace {

// Lays `over` onto `base`: a map merges key by key, anything else replaces.
void overlay(YAML::Node base, const YAML::Node& over) {
  for (const auto& entry : over) {
    const std::string key = entry.first.as<std::string>();
    YAML::Node target = base[key];
    if (entry.second.IsMap() && target && target.IsMap()) overlay(target, entry.second);
    else base[key] = entry.second;
  }
}

std::string scalar_text(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar()) throw InputError(file, key, "a text");
  return node.as<std::string>();
}

}  // namespace

bool valid_variant_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

Variant load_variant(const std::string& path, const TrainConfig& base) {
  if (std::filesystem::is_directory(path)) throw InputError(path, "", "a variant file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "a readable variant file", "cannot open");
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::ParserException& e) {
    throw InputError(path, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  if (!root.IsMap()) throw InputError(path, "<top level>", "a mapping of keys (name, description, baseline, config, seeds)");
  known_map_keys(root, {"name", "description", "baseline", "config", "seeds"}, path, "");
  Variant v;
  v.file = path;
  v.name = root["name"] ? scalar_text(root["name"], path, "name") : std::filesystem::path(path).stem().string();
  if (!valid_variant_name(v.name))
    throw InputError(path, "name", "1 to 64 letters, digits, '.', '_' or '-' (it names folders)", "'" + v.name + "'");
  if (root["description"]) v.description = scalar_text(root["description"], path, "description");
  if (root["baseline"]) {
    v.baseline = scalar_text(root["baseline"], path, "baseline");
    if (std::find(kBaselineMethods.begin(), kBaselineMethods.end(), v.baseline) == kBaselineMethods.end())
      throw InputError(path, "baseline", "one of: " + join_names(kBaselineMethods), "'" + v.baseline + "'");
  }
  if (root["seeds"]) {
    const YAML::Node seeds = root["seeds"];
    if (!seeds.IsSequence() || seeds.size() == 0) throw InputError(path, "seeds", "a non-empty list of seeds");
    for (size_t i = 0; i < seeds.size(); ++i) {
      try {
        v.seeds.push_back(seeds[i].as<uint64_t>());
      } catch (const YAML::Exception&) {
        throw InputError(path, "seeds[" + std::to_string(i) + "]", "an integer >= 0");
      }
    }
  }
  YAML::Node merged = YAML::Load(to_yaml(base));
  if (root["config"]) {
    if (!root["config"].IsMap()) throw InputError(path, "config", "a mapping of training config keys (configs/README.md)");
    overlay(merged, root["config"]);
  }
  YAML::Emitter out;
  out << merged;
  // Messages name the variant file; their keys are those under its `config:`.
  v.config = parse_train_config(out.c_str(), path + " (config)");
  return v;
}

}  // namespace resilinet
