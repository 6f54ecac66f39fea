// MerkleTree storage: one flat array per level, so a level's nodes are
// contiguous and a node's children are a span of the next level.
#include "store/merkle_tree.h"

#include "util/hash.h"

namespace gossipkv {

MerkleTree::MerkleTree(MerkleShape shape) : shape_(shape) {
  for (int level = 0; level <= shape_.depth(); ++level) {
    levels_.emplace_back(size_t{1} << (level * shape_.fanout_bits), 0);
  }
}

uint32_t MerkleTree::SegmentOfKey(std::string_view key) const {
  return SegmentOfHash(Hash64(key));
}

void MerkleTree::Clear() {
  for (auto& level : levels_) std::fill(level.begin(), level.end(), 0);
}

void MerkleTree::Shift(uint32_t segment, uint64_t delta) {
  uint32_t index = segment;
  for (int level = depth(); level >= 0; --level) {
    levels_[level][index] += delta;
    index >>= shape_.fanout_bits;
  }
}

std::span<const uint64_t> MerkleTree::Children(int level,
                                               uint32_t index) const {
  const size_t fanout = size_t{1} << shape_.fanout_bits;
  return std::span<const uint64_t>(levels_[level + 1].data() + index * fanout,
                                   fanout);
}

MerkleTree MerkleTree::Restricted(const MerkleTree& full,
                                  const std::vector<bool>& keep) {
  MerkleTree tree(full.shape_);
  const int depth = tree.depth();
  auto& leaves = tree.levels_[depth];
  const auto& theirs = full.levels_[depth];
  for (size_t i = 0; i < leaves.size() && i < keep.size(); ++i) {
    if (keep[i]) leaves[i] = theirs[i];
  }
  // Each inner node is the wrapping sum of its children, as Shift keeps it.
  for (int level = depth - 1; level >= 0; --level) {
    const auto& below = tree.levels_[level + 1];
    auto& here = tree.levels_[level];
    for (size_t i = 0; i < below.size(); ++i)
      here[i >> full.shape_.fanout_bits] += below[i];
  }
  return tree;
}

std::vector<uint32_t> MerkleTree::DiffSegments(const MerkleTree& a,
                                               const MerkleTree& b) {
  std::vector<uint32_t> frontier;
  if (a.Root() != b.Root()) frontier.push_back(0);
  for (int level = 0; level < a.depth() && !frontier.empty(); ++level) {
    std::vector<uint32_t> next;
    for (uint32_t index : frontier) {
      auto ca = a.Children(level, index), cb = b.Children(level, index);
      for (uint32_t i = 0; i < ca.size(); ++i) {
        if (ca[i] != cb[i])
          next.push_back(index * static_cast<uint32_t>(ca.size()) + i);
      }
    }
    frontier = std::move(next);
  }
  return frontier;
}

size_t MerkleTree::MemoryBytes() const {
  size_t bytes = levels_.capacity() * sizeof(levels_[0]);
  for (const auto& level : levels_)
    bytes += level.capacity() * sizeof(uint64_t);
  return bytes;
}

}  // namespace gossipkv
