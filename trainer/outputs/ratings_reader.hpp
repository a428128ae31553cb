// Ratings written by `resilinet rate`, read back (docs/FORMAT.md "Ratings"): a ratings.h5 file, a
// folder holding one, or the folder of a job over several ranks (parts.json and its part folders).
// Every file is checked as untrusted input: format, shapes, sizes against the file, levels and
// regions in range; errors are InputError naming the file and dataset.
#pragma once
#include "trainer/outputs/room.hpp"
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace resilinet {

struct RatingsSource {
  std::string path;                       // as given
  std::vector<std::string> files;         // ratings.h5 files, in order
  std::vector<std::string> region_names;  // the same in every file
  int levels = 0;                         // K
  uint64_t rows = 0;
};

// option names the command-line option in messages.
RatingsSource open_ratings(const std::string& path, const std::string& option);

struct RatedChunk {
  size_t rows = 0;
  const int64_t* cell_id = nullptr;
  const uint32_t* region = nullptr;
  const double* lonlat = nullptr;  // [rows x 2]
  const int32_t* level = nullptr;  // 0 (not rated) .. K
};

// Calls fn for consecutive chunks of at most chunk_rows rows, file after file.
void for_each_rated_chunk(const RatingsSource& source, size_t chunk_rows, const std::function<void(const RatedChunk&)>& fn);

}  // namespace resilinet
