// libFuzzer harness: the schema YAML (parse_schema_yaml, datasets/schema_yaml.hpp). Bad text must
// fail as InputError only; an accepted schema must be self-consistent (one source and one
// description per feature, at least one feature).
#include <cstdint>
#include <string>

#include "datasets/schema_yaml.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  resilinet::SchemaFile schema;
  if (!resilinet::fuzz::expect_input_error_only(
          [&] { schema = resilinet::parse_schema_yaml(text, "fuzz.yaml"); }))
    return 0;
  const size_t F = schema.schema.size();
  if (F == 0 || schema.sources.size() != F || schema.descriptions.size() != F)
    resilinet::fuzz::defect("an accepted schema has " + std::to_string(F) + " features, " +
                            std::to_string(schema.sources.size()) + " sources and " +
                            std::to_string(schema.descriptions.size()) + " descriptions");
  return 0;
}
