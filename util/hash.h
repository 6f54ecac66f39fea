// 64-bit hashing on XXH3, the one hash function gossipkv uses for key
// placement (Merkle segments) and entry digests. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace gossipkv {

uint64_t Hash64(std::string_view bytes);

// Hash of two byte strings as if concatenated, without concatenating.
uint64_t Hash64(std::string_view first, std::string_view second);

}  // namespace gossipkv
