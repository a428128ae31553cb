// ShardSet::open: resolves a glob, a file or a directory to a sorted list of shards, validates every
// shard and that all schemas and grouping names are identical, and builds the union of region names
// and of each grouping's labels. It reads no rows; the loader (datasets/loader.cpp) and the
// commands stream them.
#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"

namespace resilinet {
namespace {

std::vector<std::string> resolve_paths(const std::string& pattern) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  if (fs::is_directory(pattern, ec)) {
    for (const auto& entry : fs::directory_iterator(pattern, ec))
      if (entry.path().extension() == ".h5" && entry.is_regular_file(ec))
        paths.push_back(entry.path().string());
    if (ec) throw InputError(pattern, "", "a readable directory of shards", ec.message());
    if (paths.empty()) throw InputError(pattern, "", "*.h5 shards in the directory", "none");
  } else if (fs::exists(pattern, ec)) {
    paths.push_back(pattern);
  } else {
    glob_t matches{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
    for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
    globfree(&matches);
    if (rc == GLOB_NOMATCH || paths.empty())
      throw InputError(pattern, "", "a shard file, a directory of *.h5 shards or a glob matching "
                       "shards", "no match");
    if (rc != 0) throw InputError(pattern, "", "a readable glob pattern", "glob error " +
                                  std::to_string(rc));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Throws naming the first feature and field where `found` differs from the first shard's schema.
void check_same_schema(const Schema& expected, const std::string& first_path, const Schema& found,
                       const std::string& path) {
  if (expected == found) return;
  const std::string same = "schema identical to " + first_path;
  if (expected.size() != found.size())
    throw InputError(path, "feature_names",
                     same + " (" + std::to_string(expected.size()) + " features)",
                     std::to_string(found.size()) + " features");
  for (size_t i = 0; i < expected.size(); ++i) {
    const FeatureSpec& a = expected.features[i];
    const FeatureSpec& b = found.features[i];
    std::string at = fmt::format("[{}]", i);
    if (a.name != b.name)
      throw InputError(path, "feature_names" + at, same + " (" + quoted(a.name) + ")",
                       quoted(b.name));
    at += " (" + a.name + ")";
    if (a.system != b.system)
      throw InputError(path, "feature_system" + at, same + " (" + quoted(a.system) + ")",
                       quoted(b.system));
    if (a.component != b.component)
      throw InputError(path, "feature_component" + at, same + " (" + quoted(a.component) + ")",
                       quoted(b.component));
    if (a.direction != b.direction)
      throw InputError(path, "feature_direction" + at,
                       same + " (" + std::to_string(a.direction) + ")",
                       std::to_string(b.direction));
    if (a.unit != b.unit)
      throw InputError(path, "feature_unit" + at, same + " (" + quoted(a.unit) + ")",
                       quoted(b.unit));
  }
}

std::string listed(const std::vector<ShardGrouping>& groups) {
  if (groups.empty()) return "none";
  std::string s;
  for (const ShardGrouping& g : groups) s += (s.empty() ? "" : ", ") + g.name;
  return "(" + s + ")";
}

}  // namespace

ShardSet ShardSet::open(const std::string& pattern) {
  ShardSet set;
  std::unordered_map<std::string, uint32_t> region_index;
  std::vector<std::unordered_map<std::string, uint32_t>> label_index;  // per grouping
  for (const std::string& path : resolve_paths(pattern)) {
    ShardMeta meta = ShardReader(path).meta();
    if (set.shards_.empty()) {
      set.schema_ = meta.schema;
      for (const ShardGrouping& g : meta.groups) set.group_names_.push_back(g.name);
      set.group_labels_.resize(meta.groups.size());
      label_index.resize(meta.groups.size());
    } else {
      check_same_schema(set.schema_, set.shards_.front().path, meta.schema, path);
      const ShardMeta& first = set.shards_.front();
      bool same = meta.groups.size() == first.groups.size();
      for (size_t g = 0; same && g < meta.groups.size(); ++g) same = meta.groups[g].name == first.groups[g].name;
      if (!same)
        throw InputError(path, "/groups", "the groupings of " + first.path + " " + listed(first.groups),
                         listed(meta.groups));
    }
    std::vector<std::vector<uint32_t>> group_to_global(meta.groups.size());
    for (size_t g = 0; g < meta.groups.size(); ++g) {
      for (const std::string& label : meta.groups[g].labels) {
        auto [it, added] = label_index[g].emplace(label, static_cast<uint32_t>(set.group_labels_[g].size()));
        if (added) set.group_labels_[g].push_back(label);
        group_to_global[g].push_back(it->second);
      }
    }
    set.group_map_.push_back(std::move(group_to_global));
    std::vector<uint32_t> local_to_global;
    for (const std::string& name : meta.region_names) {
      auto [it, added] = region_index.emplace(name, static_cast<uint32_t>(set.region_names_.size()));
      if (added) set.region_names_.push_back(name);
      local_to_global.push_back(it->second);
    }
    set.region_map_.push_back(std::move(local_to_global));
    set.total_rows_ += meta.rows;
    set.shards_.push_back(std::move(meta));
  }
  return set;
}

bool ShardSet::has_hazard() const {
  return !shards_.empty() &&
         std::all_of(shards_.begin(), shards_.end(), [](const ShardMeta& m) { return m.has_hazard; });
}

bool ShardSet::has_planted_level() const {
  return !shards_.empty() && std::all_of(shards_.begin(), shards_.end(),
                                         [](const ShardMeta& m) { return m.has_planted_level; });
}

bool ShardSet::has_population() const {
  return !shards_.empty() &&
         std::all_of(shards_.begin(), shards_.end(), [](const ShardMeta& m) { return m.has_population; });
}

bool ShardSet::has_external_rating() const {
  return !shards_.empty() && std::all_of(shards_.begin(), shards_.end(), [](const ShardMeta& m) {
           return m.has_external_rating;
         });
}

}  // namespace resilinet
