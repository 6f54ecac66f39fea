// MerkleTree: incremental updates, descent to differing segments, shapes.
#include "store/merkle_tree.h"

#include <gtest/gtest.h>

#include <set>

#include "util/random.h"

namespace gossipkv {
namespace {

TEST(MerkleTreeTest, ShapeValidation) {
  EXPECT_TRUE((MerkleShape{16, 4}).Validate().ok());
  EXPECT_TRUE((MerkleShape{12, 3}).Validate().ok());
  EXPECT_FALSE((MerkleShape{16, 3}).Validate().ok());
  EXPECT_FALSE((MerkleShape{0, 4}).Validate().ok());
  EXPECT_FALSE((MerkleShape{30, 5}).Validate().ok());
  EXPECT_EQ((MerkleShape{16, 4}).depth(), 4);
}

TEST(MerkleTreeTest, OrderOfUpdatesDoesNotMatter) {
  MerkleTree a({8, 2}), b({8, 2});
  a.Add(3, 100);
  a.Add(200, 7);
  a.Replace(3, 100, 55);
  b.Add(200, 7);
  b.Add(3, 55);
  EXPECT_EQ(a, b);
  a.Remove(200, 7);
  EXPECT_NE(a.Root(), b.Root());
}

TEST(MerkleTreeTest, DiffFindsExactlyTheChangedSegments) {
  const MerkleShape shape{16, 4};
  MerkleTree a(shape), b(shape);
  Random random(9);
  for (int i = 0; i < 20000; ++i) {
    uint32_t seg = static_cast<uint32_t>(random.Uniform(shape.segment_count()));
    uint64_t h = random.Next64();
    a.Add(seg, h);
    b.Add(seg, h);
  }
  EXPECT_TRUE(MerkleTree::DiffSegments(a, b).empty());
  std::set<uint32_t> changed;
  for (int i = 0; i < 37; ++i) {
    uint32_t seg = static_cast<uint32_t>(random.Uniform(shape.segment_count()));
    b.Add(seg, random.Next64());
    changed.insert(seg);
  }
  auto diff = MerkleTree::DiffSegments(a, b);
  EXPECT_EQ(std::set<uint32_t>(diff.begin(), diff.end()), changed);
  EXPECT_EQ(MerkleTree::DiffSegments(b, a), diff);
}

// docs/architecture.md: "At S=16, F=16 the tree holds 69,905 hashes: 546
// KiB".
TEST(MerkleTreeTest, MemoryAtDefaultShapeIs546KiB) {
  MerkleTree tree(MerkleShape{16, 4});
  // 65,536 leaves + 4,096 + 256 + 16 + 1 inner nodes.
  uint64_t hashes = 0;
  for (int level = 0; level <= tree.depth(); ++level)
    hashes += tree.NodesAt(level);
  EXPECT_EQ(hashes, 69'905u);
  // 8 bytes a hash, plus the few bytes of the per-level vectors.
  EXPECT_GE(tree.MemoryBytes(), hashes * 8);
  EXPECT_EQ(tree.MemoryBytes() / 1024, 546u);
}

}  // namespace
}  // namespace gossipkv
