// Strict YAML binding shared by config files: one field list per config, visited by a Reader
// (consumes keys, rejects unknown ones naming the valid keys, reports wrong types as InputError) or
// by a Writer (emits the resolved YAML). Keeps readers and writers from drifting apart.
#pragma once
#include "trainer/model/room.hpp"
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/yaml_keys.hpp"

namespace resilinet::yaml_binding {

template <class T> inline std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  else if constexpr (std::is_integral_v<T>) return std::is_unsigned_v<T> ? "a non-negative integer" : "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a list of integers";
}

inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

// Reads one YAML map, remembering which keys were consumed so that finish() can reject the rest.
class Reader {
 public:
  Reader(YAML::Node node, std::string file, std::string path)
      : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {
    if (node_ && !node_.IsNull() && !node_.IsMap())
      throw InputError(file_, path_.empty() ? "<top level>" : path_, "a mapping of keys");
  }

  template <class T> void field(const char* key, T& value) {
    known_.push_back(key);
    if (!node_ || node_.IsNull() || !node_[key]) return;
    YAML::Node v = node_[key];
    try {
      if (v.IsNull() || (!v.IsScalar() && !std::is_same_v<T, std::vector<int>>)) throw YAML::Exception({}, "");
      value = v.as<T>();
    } catch (const YAML::Exception&) {
      throw InputError(file_, qualified(key), type_name<T>(), describe(v));
    }
    // Strings are paths and names: a control character, invalid UTF-8 or a noncharacter is no
    // usable path (a NUL cuts one short), and the Writer could not write it back unchanged
    // (yaml-cpp drops a carriage return before a line break and replaces what is not text).
    if constexpr (std::is_same_v<T, std::string>) check_name(file_, qualified(key), value, kMaxTextBytes);
  }

  void choice(const char* key, std::string& value, const std::vector<std::string>& choices) {
    field(key, value);
    for (const auto& c : choices) if (c == value) return;
    throw InputError(file_, qualified(key), "one of: " + join(choices), "'" + value + "'");
  }

  void section(const char* key, const std::function<void(Reader&)>& fn) {
    known_.push_back(key);
    YAML::Node child = (node_ && node_.IsMap()) ? node_[key] : YAML::Node();
    Reader r(child, file_, qualified(key));
    fn(r);
    r.finish();
  }

  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    for (const std::string& key : yaml_map_keys(node_, file_, path_)) {
      bool ok = false;
      for (const auto& k : known_) ok = ok || k == key;
      if (!ok)
        throw InputError(file_, qualified(key.c_str()), "a known key (" + join(known_) + ")",
                         "unknown key '" + key + "'");
    }
  }

 private:
  std::string qualified(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string describe(const YAML::Node& v) {
    if (v.IsScalar()) return "'" + v.Scalar() + "'";
    if (v.IsSequence()) return "a list";
    if (v.IsMap()) return "a mapping";
    return "nothing";
  }
  YAML::Node node_;
  std::string file_, path_;
  std::vector<std::string> known_;
};

// Emits the same field list as YAML.
class Writer {
 public:
  explicit Writer(YAML::Emitter& out) : out_(out) {}
  template <class T> void field(const char* key, T& value) {
    out_ << YAML::Key << key << YAML::Value;
    if constexpr (std::is_same_v<T, std::vector<int>>) {
      out_ << YAML::Flow << YAML::BeginSeq;
      for (int x : value) out_ << x;
      out_ << YAML::EndSeq;
    } else if constexpr (std::is_floating_point_v<T>) {
      char buf[64];  // shortest text that reads back to the same double
      auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
      out_ << std::string(buf, end);
    } else {
      out_ << value;
    }
  }
  void choice(const char* key, std::string& value, const std::vector<std::string>&) { field(key, value); }
  void section(const char* key, const std::function<void(Writer&)>& fn) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    fn(*this);
    out_ << YAML::EndMap;
  }

 private:
  YAML::Emitter& out_;
};

}  // namespace resilinet::yaml_binding
