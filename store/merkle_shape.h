// MerkleShape: the shape of the Merkle tree (store/merkle_tree.h) — 2^S
// segments and F children per inner node — chosen in the config and
// checked by Validate(). Header-only, so config/ can name and validate it
// without linking store/. Value type; any thread.
#pragma once

#include <fmt/format.h>

#include <cstdint>

#include "util/status.h"

namespace gossipkv {

struct MerkleShape {
  int segment_bits = 16;  // S: 2^S leaves (64 Ki by default)
  int fanout_bits = 4;    // log2(F): 16 children per inner node by default

  // S in [1, 24], log2(F) in [1, 8], and S a multiple of log2(F).
  Status Validate() const;
  int depth() const { return segment_bits / fanout_bits; }
  uint32_t segment_count() const { return 1u << segment_bits; }
  bool operator==(const MerkleShape&) const = default;
};

inline Status MerkleShape::Validate() const {
  if (segment_bits < 1 || segment_bits > 24) {
    return Status::InvalidArgument(fmt::format(
        "merkle segment_bits must be in [1, 24], got {}", segment_bits));
  }
  if (fanout_bits < 1 || fanout_bits > 8) {
    return Status::InvalidArgument(fmt::format(
        "merkle fanout must be 2..256 (fanout_bits 1..8), got {} bits",
        fanout_bits));
  }
  if (segment_bits % fanout_bits != 0) {
    return Status::InvalidArgument(fmt::format(
        "merkle segment_bits ({}) must be a multiple of log2(fanout) ({})",
        segment_bits, fanout_bits));
  }
  return Status::Ok();
}

}  // namespace gossipkv
