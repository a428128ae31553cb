#include "trainer/distributed/tile_tree_plan.hpp"

#include <cstring>
#include <stdexcept>

namespace resilinet {

TileTreePlan plan_tile_tree(const std::vector<size_t>& tiles_per_rank, int world, const std::string& who) {
  if (tiles_per_rank.size() != size_t(world))
    throw std::invalid_argument(who + ": " + std::to_string(tiles_per_rank.size()) + " tile counts for a world of " +
                                std::to_string(world));
  TileTreePlan plan;
  for (size_t n : tiles_per_rank) {
    plan.first.push_back(plan.tiles);
    plan.tiles += n;
  }
  for (size_t r = 0; r < tiles_per_rank.size(); ++r) {
    plan.covers.push_back(kernels::tile_tree_cover(plan.first[r], plan.first[r] + tiles_per_rank[r], plan.tiles));
    plan.nodes.insert(plan.nodes.end(), plan.covers.back().begin(), plan.covers.back().end());
    plan.nodes_per_rank.push_back(plan.covers.back().size());
  }
  return plan;
}

void cover_sums(const TileTreePlan& plan, int rank, const float* tiles, size_t count, float* sums,
                kernels::TileTreeScratch& scratch) {
  const auto& cover = plan.covers[size_t(rank)];
  for (size_t i = 0; i < cover.size(); ++i)
    kernels::tile_tree_sum(tiles, plan.first[size_t(rank)], plan.tiles, count, count, cover[i], sums + i * count,
                           scratch);
}

void combine_nodes(const TileTreePlan& plan, const float* received, size_t own, float* sum,
                   kernels::TileTreeScratch& scratch) {
  std::vector<const float*> values(plan.nodes.size());
  for (size_t i = 0; i < values.size(); ++i) values[i] = received + i * own;
  combine_nodes(plan, values, own, sum, scratch);
}

void combine_nodes(const TileTreePlan& plan, const std::vector<const float*>& values, size_t own, float* sum,
                   kernels::TileTreeScratch& scratch) {
  if (own == 0) return;
  if (plan.tiles == 0) {
    std::memset(sum, 0, sizeof(float) * own);
    return;
  }
  const kernels::TileNode root = kernels::tile_tree_root(plan.tiles);
  scratch.ensure(root.size, own);
  const float* result = kernels::tile_tree_eval(
      root, plan.tiles,
      [&](kernels::TileNode n) -> const float* {
        for (size_t i = 0; i < plan.nodes.size(); ++i)
          if (plan.nodes[i] == n) return values[i];
        return nullptr;
      },
      [&](const float* a, const float* b, float* to) {
        for (size_t k = 0; k < own; ++k) to[k] = a[k] + b[k];
      },
      [&](int depth) { return scratch.at(depth); }, sum);
  if (result != sum) std::memcpy(sum, result, sizeof(float) * own);
}

}  // namespace resilinet
