// XXH3 wrappers. The streaming state is used for the two-part form so that a
// key and its encoded entry are hashed without building a temporary string.
#include "util/hash.h"

// XXH3_state_t is only complete with the static-linking-only API.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace gossipkv {

uint64_t Hash64(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

uint64_t Hash64(uint64_t value, uint64_t seed) {
  // Little-endian bytes whatever the machine, so every node scores alike.
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
}

uint64_t Hash64(std::string_view first, std::string_view second) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, first.data(), first.size());
  XXH3_64bits_update(&state, second.data(), second.size());
  return XXH3_64bits_digest(&state);
}

}  // namespace gossipkv
