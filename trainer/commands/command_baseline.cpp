// `resilinet baseline --method kmeans|equal_weight_index --config X.yaml`: rates the cells with a
// method that is not a network (trainer/stages/baseline_rating.hpp), for benchmarks.
#include <memory>

#include "trainer/commands/commands.hpp"
#include "trainer/commands/run_overrides.hpp"
#include "trainer/stages/baseline_rating.hpp"

namespace resilinet {

void add_baseline_command(CLI::App& app) {
  struct Args {
    RunOverrides run;
    std::string method;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  auto* sub = app.add_subcommand(
      "baseline", "Rate the cells with a baseline that is not a network (k-means or an equal-weight index); "
                  "writes levels.h5 and metrics.json to the run folder");
  sub->add_option("--method", args->method, "kmeans or equal_weight_index")
      ->required()
      ->check(CLI::IsMember(kBaselineMethods));
  args->run.add_to(sub);
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] { rate_with_baseline(args->run.load(), args->method, args->quiet); });
}

}  // namespace resilinet
