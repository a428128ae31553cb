// `resilinet explain`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_explain_command(CLI::App& app) {
  auto* sub = app.add_subcommand("explain", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'explain' is not implemented yet"); });
}

}  // namespace resilinet
