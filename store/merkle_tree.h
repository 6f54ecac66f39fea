// MerkleTree: an in-memory hash tree over the key space.
//
// The key space is cut by the top S bits of XXH3(key) into 2^S segments. A
// segment's hash is the wrapping sum of its keys' entry hashes, and an inner
// node's is the sum of its F children, so a write moves one leaf and its
// ancestors by the same delta: O(depth) with no rescan, and the tree never
// depends on the order writes arrived in. Two replicas with equal roots hold
// equal data (up to 64-bit collisions); where roots differ, descending only
// into differing children finds the differing segments.
//
// Level 0 is the root; level depth() holds the 2^S leaves. The tree is
// rebuilt from the entries column family at open, never trusted across a
// crash. Owned by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "store/merkle_shape.h"
#include "util/status.h"

namespace gossipkv {

class MerkleTree {
 public:
  explicit MerkleTree(MerkleShape shape);  // shape must Validate()

  const MerkleShape& shape() const { return shape_; }
  int depth() const { return shape_.depth(); }

  uint32_t SegmentOfKey(std::string_view key) const;
  uint32_t SegmentOfHash(uint64_t key_hash) const {
    return static_cast<uint32_t>(key_hash >> (64 - shape_.segment_bits));
  }

  // Entry `hash` joins (Add) or leaves (Remove) `segment`.
  void Add(uint32_t segment, uint64_t hash) { Shift(segment, hash); }
  void Remove(uint32_t segment, uint64_t hash) { Shift(segment, 0 - hash); }
  void Replace(uint32_t segment, uint64_t old_hash, uint64_t new_hash) {
    Shift(segment, new_hash - old_hash);
  }
  void Clear();

  uint64_t Root() const { return levels_[0][0]; }
  uint64_t Node(int level, uint32_t index) const {
    return levels_[level][index];
  }
  uint32_t NodesAt(int level) const {
    return static_cast<uint32_t>(levels_[level].size());
  }
  // The F children of inner node (level, index), as hashes at level + 1.
  std::span<const uint64_t> Children(int level, uint32_t index) const;

  // The tree of `full`'s segments where `keep[segment]` is true, every
  // other segment counted empty: what two replicas that share only those
  // segments compare. `keep` has one flag per segment.
  static MerkleTree Restricted(const MerkleTree& full,
                               const std::vector<bool>& keep);

  // Segments whose hashes differ, found by descending from the root only into
  // differing children. Both trees must have the same shape.
  static std::vector<uint32_t> DiffSegments(const MerkleTree& a,
                                            const MerkleTree& b);

  bool operator==(const MerkleTree& other) const {
    return levels_ == other.levels_;
  }
  // Heap bytes held by the hash arrays.
  size_t MemoryBytes() const;

 private:
  void Shift(uint32_t segment, uint64_t delta);

  MerkleShape shape_;
  std::vector<std::vector<uint64_t>> levels_;  // levels_[0] is the root
};

}  // namespace gossipkv
