// `resilinet bench --leave-one-region-out`: for each region R, a model trained on every other
// region rates R ("transfer"), and a model trained on R alone rates R too ("alone"). The table per
// region says how far the two agree (ARI, quadratic weighted kappa) and how far the shares of the
// levels shift, so an engineer knows whether a model carries over to a new city. Writes
// OUT/loro.md, .csv and .json (docs/FORMAT.md "Leave-one-region-out table").
#pragma once
#include "trainer/bench/room.hpp"
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/bench/bench_variants.hpp"

namespace resilinet {

// Uses the options' data, base config, out, seeds, jobs, threads and quiet (variant_files unused).
// Returns loro.json's object. InputError for data of fewer than 2 regions.
nlohmann::json run_leave_one_region_out(const VariantsBenchOptions& options);

// How two ratings of the same cells (levels 1..K) agree: ari, kappa (quadratic weighted), shares
// of each level [K] for a and b, share_shift (total variation: half the sum of |share_a -
// share_b|) and mean_level_shift (mean of a - b).
nlohmann::json rating_agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int K);

}  // namespace resilinet
