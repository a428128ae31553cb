// Key checks declared in datasets/yaml_keys.hpp.
#include "datasets/yaml_keys.hpp"

#include "datasets/input_error.hpp"
#include "datasets/text.hpp"

namespace resilinet {

std::vector<std::string> yaml_map_keys(const YAML::Node& map, const std::string& file,
                                       const std::string& path) {
  const std::string where = path.empty() ? "<top level>" : path;
  std::vector<std::string> keys;
  if (!map || !map.IsMap()) return keys;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      throw InputError(file, where, "keys that are plain names",
                       kv.first.IsSequence() ? "a key that is a list"
                       : kv.first.IsMap()    ? "a key that is a map"
                                             : "an empty key");
    std::string key = kv.first.Scalar();
    // Named before it is echoed in any message, so that no message carries what a name may not.
    check_name(file, where + " (a key)", key);
    for (const auto& seen : keys)
      if (seen == key)
        throw InputError(file, path.empty() ? key : path + "." + key, "each key once", "the key twice");
    keys.push_back(std::move(key));
  }
  return keys;
}

std::vector<std::string> known_map_keys(const YAML::Node& map, const std::vector<std::string>& valid,
                                        const std::string& file, const std::string& path) {
  std::vector<std::string> keys = yaml_map_keys(map, file, path);
  for (const std::string& key : keys) {
    bool ok = false;
    for (const auto& v : valid) ok = ok || v == key;
    if (!ok)
      throw InputError(file, path.empty() ? key : path + "." + key, "one of the keys " + join_names(valid),
                       "unknown key '" + key + "'");
  }
  return keys;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

}  // namespace resilinet
