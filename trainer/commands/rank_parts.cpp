#include "trainer/commands/rank_parts.hpp"

#include <vector>

#include <fmt/format.h>

#include "trainer/outputs/atomic_file.hpp"

namespace resilinet {

namespace {
std::string part_name(int rank, int world) { return fmt::format("part-{:05d}-of-{:05d}", rank, world); }
}  // namespace

std::string rank_part_folder(const std::string& out, const Communicator& comm) {
  return comm.world() > 1 ? out + "/" + part_name(comm.rank(), comm.world()) : out;
}

int64_t write_parts_manifest(const std::string& out, Communicator& comm, int64_t rows, nlohmann::json about) {
  const int world = comm.world();
  if (world == 1) return rows;
  std::vector<int64_t> part_rows(static_cast<size_t>(world), 0);
  comm.allgather(&rows, sizeof(rows), part_rows.data());  // also: every part is written
  int64_t total = 0;
  for (int64_t n : part_rows) total += n;
  if (comm.rank() == 0) {
    nlohmann::json parts = nlohmann::json::array();
    for (int r = 0; r < world; ++r) parts.push_back({{"folder", part_name(r, world)}, {"rows", part_rows[size_t(r)]}});
    about["ranks"] = world;
    about["rows"] = total;
    about["parts"] = parts;
    write_text_atomically(out + "/parts.json", about.dump(2) + "\n");
  }
  return total;
}

}  // namespace resilinet
