// The feature schema of a dataset: per feature its name, system, component, direction and unit.
// Shards carry it as attributes; the model is assembled from it (encoder groups = systems).
#pragma once
#include <string>
#include <vector>

namespace resilinet {

// The three resilience components of the method; any other value is rejected.
inline const std::vector<std::string>& known_components() {
  static const std::vector<std::string> c = {"robustness", "redundancy", "resourcefulness"};
  return c;
}

struct FeatureSpec {
  std::string name;
  std::string system;     // e.g. facility, infrastructure, society; groups the encoder's first layer
  std::string component;  // one of known_components()
  int direction = 1;      // +1: more is more resilient, -1: less is more resilient
  std::string unit;
  bool operator==(const FeatureSpec&) const = default;
};

struct Schema {
  std::vector<FeatureSpec> features;

  size_t size() const { return features.size(); }
  bool operator==(const Schema&) const = default;

  // Distinct systems in order of first appearance.
  std::vector<std::string> systems() const {
    std::vector<std::string> out;
    for (const auto& f : features) {
      bool seen = false;
      for (const auto& s : out) seen = seen || s == f.system;
      if (!seen) out.push_back(f.system);
    }
    return out;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& f : features) out.push_back(f.name);
    return out;
  }
};

}  // namespace resilinet
