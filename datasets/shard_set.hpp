// A dataset: the shards matched by a glob (or a list of paths), validated together when opened
// (format version, identical schema, consistent row counts), never mid-epoch.
#pragma once
#include <string>
#include <vector>

#include "datasets/shard.hpp"

namespace resilinet {

class ShardSet {
 public:
  // pattern: a glob ("runs/data/*.h5"), a single file, or a directory (all *.h5 inside).
  // Throws InputError when nothing matches or any shard is invalid or differs in schema.
  static ShardSet open(const std::string& pattern);

  const Schema& schema() const { return schema_; }
  const std::vector<ShardMeta>& shards() const { return shards_; }
  size_t total_rows() const { return total_rows_; }
  // Union of the shards' region names, in order of first appearance; region_map()[s][local] gives
  // the global index of shard s's local region index.
  const std::vector<std::string>& region_names() const { return region_names_; }
  const std::vector<std::vector<uint32_t>>& region_map() const { return region_map_; }
  bool has_hazard() const;           // every shard has /hazard
  bool has_planted_level() const;    // every shard has /planted_level
  bool has_external_rating() const;  // every shard has /external_rating
  bool has_population() const;       // every shard has /population
  // The groupings (shard /groups), sorted; every shard has the same ones. Labels are merged across
  // shards as region names are: group_labels()[g] in order of first appearance, and
  // group_map()[s][g][local] is the global code of shard s's local code in grouping g.
  const std::vector<std::string>& group_names() const { return group_names_; }
  const std::vector<std::vector<std::string>>& group_labels() const { return group_labels_; }
  const std::vector<std::vector<std::vector<uint32_t>>>& group_map() const { return group_map_; }

 private:
  Schema schema_;
  std::vector<ShardMeta> shards_;
  size_t total_rows_ = 0;
  std::vector<std::string> region_names_;
  std::vector<std::vector<uint32_t>> region_map_;
  std::vector<std::string> group_names_;
  std::vector<std::vector<std::string>> group_labels_;
  std::vector<std::vector<std::vector<uint32_t>>> group_map_;
};

}  // namespace resilinet
