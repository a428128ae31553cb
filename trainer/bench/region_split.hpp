// The cells of a data set split by region: one shard per region (OUT/rN.h5, N the region's index
// in the data's region_names), each with every column of the data, so that a region can be trained
// on or rated alone. Streams the data once; one writer per region is open at a time per slab.
#pragma once
#include "trainer/bench/room.hpp"
#include <string>
#include <vector>

namespace resilinet {

struct RegionShard {
  std::string name, path;
  size_t cells = 0;
};

// Writes the shards unless out_dir already holds a split of the same data (a record of the source
// shards' paths, sizes and modification times), and returns them in region order.
std::vector<RegionShard> split_by_region(const std::string& data_glob, const std::string& out_dir, bool quiet);

}  // namespace resilinet
