// Registration of the subcommands of the `resilinet` binary. Each command lives in its own
// trainer/commands/command_<name>.cpp and adds itself to the CLI11 app; errors propagate as exceptions
// (InputError -> exit 2, anything else -> exit 1), handled once in trainer/commands/main.cpp.
#pragma once
#include "trainer/commands/room.hpp"
#include <CLI/CLI.hpp>

namespace resilinet {

void add_synth_command(CLI::App& app);
void add_ingest_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_rate_command(CLI::App& app);
void add_explain_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_scenario_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_baseline_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace resilinet
