// The SHA-256 of a file's bytes as 64 lowercase hex digits (the output of `sha256sum`): the content
// hash a fine-tuned run records for the checkpoint it started from.
#pragma once
#include "trainer/model/room.hpp"
#include <string>

namespace resilinet {

// Throws InputError naming the file when it cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace resilinet
