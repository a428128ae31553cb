// `resilinet ingest`: placeholder registration until the command lands.
#include <stdexcept>

#include "trainer/commands.hpp"

namespace resilinet {

void add_ingest_command(CLI::App& app) {
  auto* sub = app.add_subcommand("ingest", "(not yet available)");
  sub->callback([] { throw std::runtime_error("'ingest' is not implemented yet"); });
}

}  // namespace resilinet
