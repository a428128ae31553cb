// `resilinet bench --variants V.yaml... --data GLOB`: the variants table (trainer/bench/).
// `resilinet bench --leave-one-region-out --data GLOB`: transfer to each held-out region.
#include <memory>

#include "trainer/bench/bench_variants.hpp"
#include "trainer/bench/leave_one_region_out.hpp"
#include "trainer/commands/commands.hpp"

namespace resilinet {

void add_bench_command(CLI::App& app) {
  struct Args {
    VariantsBenchOptions variants;
    bool leave_one_region_out = false;
  };
  auto args = std::make_shared<Args>();
  VariantsBenchOptions& o = args->variants;
  auto* sub = app.add_subcommand("bench", "Benchmark model variants on the same data (--variants), or transfer to "
                                          "held-out regions (--leave-one-region-out); writes tables to --out");
  auto* variants = sub->add_option("--variants", o.variant_files, "Variant files (configs/variants/*.yaml)");
  auto* loro = sub->add_flag("--leave-one-region-out", args->leave_one_region_out,
                             "For each region: train on the others, rate it, and compare with a model trained on "
                             "it alone");
  variants->excludes(loro);
  sub->add_option("--data", o.data, "Glob of shards (default: the base config's data)");
  sub->add_option("--config,-c", o.config, "Base config every variant starts from (default: the built-in defaults)");
  sub->add_option("--out", o.out, "Output folder")->capture_default_str();
  sub->add_option("--seeds", o.seeds, "Seeds per variant: run.seed, run.seed + 1, ...")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("--jobs,-j", o.jobs, "Runs at a time, each its own process")->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_option("--threads", o.threads, "Threads per run (0 = the cores divided between the jobs)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  sub->add_flag("--quiet,-q", o.quiet, "No progress output");
  sub->callback([args, sub] {
    if (args->leave_one_region_out) {
      run_leave_one_region_out(args->variants);
      return;
    }
    if (args->variants.variant_files.empty())
      throw CLI::RequiredError("--variants or --leave-one-region-out");
    run_variants_bench(args->variants);
  });
}

}  // namespace resilinet
