// The keys of a YAML map as the strict readers take them. yaml-cpp keeps a key given twice (both
// entries, while node[key] finds only the first) and accepts keys that are lists or maps, which no
// reader looks up; both are refused here so that every map follows one rule.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace resilinet {

// The keys of `map` in file order, each a plain name given once. `path` is where the map sits
// ("" for the top level, "features[0]", ...). Throws InputError naming `file` and the map for a key
// that is not a plain name (a list, a map, control characters) and naming path.key for a key
// given twice.
std::vector<std::string> yaml_map_keys(const YAML::Node& map, const std::string& file,
                                       const std::string& path);

// yaml_map_keys, each of which must also be one of `valid`: an unknown key throws InputError naming
// path.key and listing the valid keys.
std::vector<std::string> known_map_keys(const YAML::Node& map, const std::vector<std::string>& valid,
                                        const std::string& file, const std::string& path);

// "a, b, c": names listed in a message.
std::string join_names(const std::vector<std::string>& names);

}  // namespace resilinet
