// `resilinet inspect`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_inspect_command(CLI::App& app) {
  auto* sub = app.add_subcommand("inspect", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'inspect' is not implemented yet"); });
}

}  // namespace resilinet
