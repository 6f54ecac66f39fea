// MerkleTree: incremental updates, descent to differing segments, shapes.
#include "replication/merkle_tree.h"

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

TEST(MerkleTreeTest, MemoryAtDefaultShapeIsAboutHalfAMebibyte) {
  MerkleTree tree(MerkleShape{16, 4});
  // 65536 leaves + 4369 inner nodes, 8 bytes each.
  EXPECT_GE(tree.MemoryBytes(), (65536u + 4369u) * 8u);
  EXPECT_LT(tree.MemoryBytes(), 600u * 1024u);
}

}  // namespace
}  // namespace gossipkv
