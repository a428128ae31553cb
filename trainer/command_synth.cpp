// `resilinet synth`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_synth_command(CLI::App& app) {
  auto* sub = app.add_subcommand("synth", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'synth' is not implemented yet"); });
}

}  // namespace resilinet
