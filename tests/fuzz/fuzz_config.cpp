// libFuzzer harness: the training config YAML (parse_train_config, trainer/model/config.hpp).
// Bad text must fail as InputError only. A config that parses must also survive its own round trip:
// to_yaml() of it parses again (no exception at all) and gives the same YAML.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "trainer/model/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  resilinet::TrainConfig config;
  if (!resilinet::fuzz::expect_input_error_only(
          [&] { config = resilinet::parse_train_config(text, "fuzz.yaml"); }))
    return 0;
  std::string yaml = resilinet::to_yaml(config), again;
  try {
    again = resilinet::to_yaml(resilinet::parse_train_config(yaml, "resolved.yaml"));
  } catch (const std::exception& e) {
    resilinet::fuzz::defect("an accepted config does not parse back from to_yaml(): " +
                            std::string(e.what()) + "\n--- to_yaml() ---\n" + yaml);
  }
  if (again != yaml)
    resilinet::fuzz::defect("to_yaml() of an accepted config does not round-trip\n--- first ---\n" +
                            yaml + "\n--- after parse ---\n" + again);
  return 0;
}
