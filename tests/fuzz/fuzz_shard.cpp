// libFuzzer harness: the shard reader (ShardReader, datasets/shard.hpp). The fuzzed bytes are written
// to a file in this process's scratch folder, opened (which validates format, schema attributes,
// dtypes, shapes and groupings), and every row is read in slabs (which checks region indices, group
// codes, ratings, feature magnitudes, population and coordinates). Bad files must fail as InputError only. The seed corpus holds small
// valid shards; the custom mutator (h5_mutator.hpp) changes them object by object as well as byte by
// byte.
#include <algorithm>
#include <cstdint>
#include <string>

#include "datasets/shard.hpp"
#include "fuzz_support.hpp"
#include "h5_mutator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = resilinet::fuzz::write_scratch_file("fuzz.h5", data, size);
  resilinet::fuzz::expect_input_error_only([&] {
    resilinet::ShardReader reader(path);
    const resilinet::ShardMeta& meta = reader.meta();
    const size_t F = meta.schema.size();
    if (F == 0 || (meta.rows > 0 && meta.region_names.empty()))
      resilinet::fuzz::defect("an accepted shard has " + std::to_string(F) + " features and " +
                              std::to_string(meta.region_names.size()) + " regions for " +
                              std::to_string(meta.rows) + " rows");
    resilinet::ShardColumns columns;
    const size_t slab = 1000;
    for (size_t first = 0; first < meta.rows; first += slab) {
      const size_t count = std::min(slab, meta.rows - first);
      reader.read_rows(first, count, columns);
      if (columns.rows != count || columns.features.size() != count * F ||
          columns.cell_id.size() != count || columns.lonlat.size() != 2 * count ||
          columns.region.size() != count ||
          columns.hazard.size() != (meta.has_hazard ? count : 0) ||
          columns.external_rating.size() != (meta.has_external_rating ? count : 0) ||
          columns.planted_level.size() != (meta.has_planted_level ? count : 0) ||
          columns.groups.size() != count * meta.groups.size() ||
          columns.population.size() != (meta.has_population ? count : 0))
        resilinet::fuzz::defect("read_rows returned columns of the wrong sizes");
    }
  });
  return 0;
}
