// The one order in which the gradients of a batch's tiles are summed, whoever holds the tiles: a
// pairwise tree over tile indices 0..T-1, the nodes being the aligned blocks [a 2^j, (a+1) 2^j)
// cut to [0, T). A node's sum is its left half plus its right half (only the left where the right
// is empty); a leaf is its tile. One process sums all tiles this way (kernels/cpu/mlp.cpp, as a
// stream: a binary counter of finished blocks); data-parallel ranks holding contiguous runs of
// tiles each sum the largest whole nodes inside their run, and the owner of an element combines
// those nodes up the same tree (Communicator::sum_tile_tree). Every world size then adds the same
// floats in the same order, so its parameters are one process's, bit for bit, and pairwise sums
// round less than a left-to-right sum.
#pragma once
#include <bit>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace resilinet::kernels {

// A node of the tree: tiles [first, first + size) cut to [0, tiles); size a power of two, first a
// multiple of it.
struct TileNode {
  size_t first = 0, size = 1;
  bool operator==(const TileNode&) const = default;
};

// The tree's root for `tiles` tiles (size: the power of two at or above tiles).
inline TileNode tile_tree_root(size_t tiles) { return {0, std::bit_ceil(tiles > 0 ? tiles : size_t(1))}; }

// The largest whole nodes covering tiles [first, end) of a batch of `tiles`, left to right: the
// parts a rank holding that run of tiles sends.
inline std::vector<TileNode> tile_tree_cover(size_t first, size_t end, size_t tiles) {
  std::vector<TileNode> nodes;
  const size_t root = tile_tree_root(tiles).size;
  for (size_t at = first; at < end;) {
    size_t size = 1;
    // Grow while the node stays aligned, inside the tree, and within the run (a node reaching past
    // the last tile counts as ending there).
    while (size < root && at % (2 * size) == 0 && std::min(at + 2 * size, tiles) <= end) size *= 2;
    nodes.push_back({at, size});
    at = std::min(at + size, tiles);
  }
  return nodes;
}

// The sum of `node`, for a tree over `tiles` tiles, where whole(node) gives the values of a node
// known as a whole (every tile, and any other node the caller holds summed) or nullptr, and
// add(a, b, out) writes a + b (all of one length; the memory may be a device's). Returns the
// values: whole(node) itself where given, else `out`, computed with scratch(depth) giving two
// buffers for the halves of a node at that depth below.
template <class Whole, class Add, class Scratch>
const float* tile_tree_eval(TileNode node, size_t tiles, const Whole& whole, const Add& add, const Scratch& scratch,
                            float* out, int depth = 0) {
  if (const float* given = whole(node)) return given;
  if (node.size == 1) throw std::logic_error("tile tree: tile " + std::to_string(node.first) + " is missing");
  const TileNode left{node.first, node.size / 2}, right{node.first + node.size / 2, node.size / 2};
  if (right.first >= tiles)  // the right half is empty: the node is its left half
    return tile_tree_eval(left, tiles, whole, add, scratch, out, depth + 1);
  float* const* halves = scratch(depth);
  const float* a = tile_tree_eval(left, tiles, whole, add, scratch, halves[0], depth + 1);
  const float* b = tile_tree_eval(right, tiles, whole, add, scratch, halves[1], depth + 1);
  add(a, b, out);
  return out;
}

// Host buffers for tile_tree_eval over nodes of at most `size` tiles, `count` floats each, kept
// between calls.
class TileTreeScratch {
 public:
  float* const* at(int depth) const { return pointers_.data() + 2 * size_t(depth); }
  // Grows the buffers only when they are too small (callers alternate between lengths: a rank's
  // whole buffer, then its owned slice), and lays the halves out `count` apart.
  void ensure(size_t size, size_t count) {
    const size_t halves = 2 * (size_t(std::bit_width(size)) + 1);
    if (buffers_.size() < halves * count) buffers_.resize(halves * count);
    pointers_.resize(halves);
    for (size_t k = 0; k < halves; ++k) pointers_[k] = buffers_.data() + k * count;
  }

 private:
  std::vector<float> buffers_;
  std::vector<float*> pointers_;
};

// Host memory: out[count] = the tree sum of `node` over tiles[t * stride ...], the caller holding
// tiles [first_tile, ...) (the node inside them).
inline void tile_tree_sum(const float* parts, size_t first_tile, size_t tiles, size_t count, size_t stride,
                          TileNode node, float* out, TileTreeScratch& scratch) {
  scratch.ensure(node.size, count);
  const float* sum = tile_tree_eval(
      node, tiles,
      [&](TileNode n) -> const float* {
        const bool one_tile = n.size == 1 || n.first + 1 >= tiles;
        return one_tile ? parts + (n.first - first_tile) * stride : nullptr;
      },
      [&](const float* a, const float* b, float* to) {
        for (size_t k = 0; k < count; ++k) to[k] = a[k] + b[k];
      },
      [&](int depth) { return scratch.at(depth); }, out);
  if (sum != out) std::memcpy(out, sum, sizeof(float) * count);
}

}  // namespace resilinet::kernels
