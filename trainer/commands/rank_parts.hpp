// Commands that share the cells between the ranks of an MPI job (rate, explain): each rank writes
// its own part folder, and rank 0 a manifest of the parts once all are written (docs/FORMAT.md).
#pragma once
#include "trainer/commands/room.hpp"
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/distributed/communicator.hpp"

namespace resilinet {

// OUT for a single process; OUT/part-RRRRR-of-WWWWW for rank R of W.
std::string rank_part_folder(const std::string& out, const Communicator& comm);

// After every rank wrote its part of `rows` cells: rank 0 writes OUT/parts.json, `about` with
// "ranks", "rows" (the total) and "parts" ([{"folder", "rows"}] in rank order) added. Returns the
// total rows on every rank. Nothing is written for a single process.
int64_t write_parts_manifest(const std::string& out, Communicator& comm, int64_t rows, nlohmann::json about);

}  // namespace resilinet
