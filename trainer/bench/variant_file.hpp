// A model variant for `resilinet bench --variants` (docs/FORMAT.md "Variant files"): a name, a
// description, either a network config overlaid on the base config or a baseline that is not a
// network, and optionally its own seeds.
#pragma once
#include "trainer/bench/room.hpp"
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/model/config.hpp"

namespace resilinet {

struct Variant {
  std::string name;         // letters, digits, '.', '_', '-': it names the variant's run folders
  std::string file;
  std::string description;
  std::string baseline;     // "" = the network; else kmeans or equal_weight_index
  TrainConfig config;       // the base config with the variant's `config:` keys over it
  std::vector<uint64_t> seeds;  // empty: the bench's seeds
};

// Reads a variant file; every key is checked (InputError naming the file and key). The `config:`
// map is laid over `base` key by key (maps merge, anything else replaces) and the result is read
// as a training config, with the same checks as `train --config`.
Variant load_variant(const std::string& path, const TrainConfig& base);

// True for a name that can name a folder: 1..64 of letters, digits, '.', '_', '-', not starting
// with '.'.
bool valid_variant_name(const std::string& name);

}  // namespace resilinet
