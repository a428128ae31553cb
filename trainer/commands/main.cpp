// The `resilinet` binary: parses the command line and maps failures to exit codes
// (0 success, 2 bad input with one line naming file/field/expected, 1 a training that diverged or an
// internal error).
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <hdf5.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/text.hpp"
#include "trainer/commands/cli_errors.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/stages/train_run.hpp"

namespace {

// Every failure is one line on stderr, whatever bytes a file or an argument put into it.
void print_error(const char* kind, std::string_view message) {
  std::fprintf(stderr, "resilinet: %s: %s\n", kind, resilinet::printable(message).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // libhdf5 1.10's exit-time cleanup crashes on a file whose flush failed (disk full). Every file
  // is closed by its owner before exit, so the cleanup has nothing to do; it is not registered.
  H5dont_atexit();
  // Past `ulimit -f` a write fails with EFBIG and is reported like a full disk, instead of the
  // signal killing the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"resilinet: community resilience rating (Resili-Net) - synth, ingest, inspect, "
               "train, rate, explain"};
  app.require_subcommand(1);
  app.set_version_flag("--version", RESILINET_VERSION);
  resilinet::add_synth_command(app);
  resilinet::add_ingest_command(app);
  resilinet::add_inspect_command(app);
  resilinet::add_train_command(app);
  resilinet::add_rate_command(app);
  resilinet::add_explain_command(app);
  resilinet::add_report_command(app);
  resilinet::add_scenario_command(app);
  resilinet::add_compare_command(app);
  resilinet::add_baseline_command(app);
  resilinet::add_bench_command(app);
  resilinet::check_whole_numbers(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error("error", resilinet::shorten_numbers(resilinet::parse_error(app, e).what()) + " (see --help)");
    return 2;
  } catch (const resilinet::InputError& e) {
    print_error("error", e.what());
    resilinet::abort_job(2);  // a job of several ranks ends as a whole
    return 2;
  } catch (const resilinet::WriteError& e) {
    print_error("error", e.what());
    resilinet::abort_job(1);  // a job of several ranks ends as a whole
    return 1;
  } catch (const resilinet::TrainingDiverged& e) {
    print_error("error", e.what());
    resilinet::abort_job(1);  // a job of several ranks ends as a whole
    return 1;
  } catch (const std::exception& e) {
    print_error("internal error", e.what());
    resilinet::abort_job(1);  // a job of several ranks ends as a whole
    return 1;
  }
  return 0;
}
