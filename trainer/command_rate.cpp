// `resilinet rate`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_rate_command(CLI::App& app) {
  auto* sub = app.add_subcommand("rate", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'rate' is not implemented yet"); });
}

}  // namespace resilinet
