// `resilinet train`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_train_command(CLI::App& app) {
  auto* sub = app.add_subcommand("train", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'train' is not implemented yet"); });
}

}  // namespace resilinet
