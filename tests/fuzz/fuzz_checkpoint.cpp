// libFuzzer harness: the checkpoint reader (read_checkpoint, trainer/model/checkpoint.hpp). The
// fuzzed bytes are written to a file in this process's scratch folder and read. Bad files must fail
// as InputError only. A checkpoint that is accepted must also be usable as the commands use it:
// require_finished() may only throw InputError, and writing it back and reading that copy must
// succeed (no exception at all) with the same config and parameters. The seed corpus holds small
// valid checkpoints (finished and under way); the custom mutator (h5_mutator.hpp) changes them
// object by object as well as byte by byte.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "h5_mutator.hpp"
#include "trainer/model/checkpoint.hpp"

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = resilinet::fuzz::write_scratch_file("checkpoint.h5", data, size);
  resilinet::Checkpoint checkpoint;
  if (!resilinet::fuzz::expect_input_error_only([&] { checkpoint = resilinet::read_checkpoint(path); }))
    return 0;
  resilinet::fuzz::expect_input_error_only([&] { resilinet::require_finished(checkpoint, path); });
  const std::string copy = (resilinet::fuzz::scratch_dir() / "copy.h5").string();
  try {
    resilinet::write_checkpoint(copy, checkpoint);
    resilinet::Checkpoint again = resilinet::read_checkpoint(copy);
    if (resilinet::to_yaml(again.config) != resilinet::to_yaml(checkpoint.config) ||
        again.stage != checkpoint.stage ||
        !same_bits(again.model.autoencoder_params, checkpoint.model.autoencoder_params) ||
        !same_bits(again.model.classifier_params, checkpoint.model.classifier_params) ||
        again.in_progress.has_value() != checkpoint.in_progress.has_value())
      resilinet::fuzz::defect("an accepted checkpoint written back reads as a different one");
  } catch (const std::exception& e) {
    resilinet::fuzz::defect("an accepted checkpoint cannot be written back and read again: " +
                            resilinet::fuzz::type_name_of(typeid(e)) + ": " + e.what());
  }
  return 0;
}
