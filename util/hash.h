// 64-bit hashing on XXH3, the one hash function gossipkv uses for key
// placement (Merkle segments, the ring) and entry digests. Pure functions; any
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gossipkv {

uint64_t Hash64(std::string_view bytes);

// Hash of two byte strings as if concatenated, without concatenating.
uint64_t Hash64(std::string_view first, std::string_view second);

// Hash of a number under a seed (XXH3 with seed): the ring's score of a
// (partition, member) pair.
uint64_t Hash64(uint64_t value, uint64_t seed);

// Hash for string-keyed containers that look up by string_view without
// building a std::string (heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return Hash64(s); }
};

template <typename Value>
using StringMap =
    std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace gossipkv
