// Ring properties over 3 to 64 members: the same ring from any order, N
// distinct owners per partition, max/mean load within the cap, a join or
// leave moving little more than the ideal, and keys placed by their
// Merkle segment's top bits.
#include "cluster/ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "store/merkle_tree.h"
#include "util/hash.h"

namespace gossipkv {
namespace {

std::vector<std::string> Ids(size_t count, const std::string& prefix = "n") {
  std::vector<std::string> ids;
  for (size_t i = 1; i <= count; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

double MaxOverMean(const Ring& ring) {
  const auto& loads = ring.loads();
  const double mean = static_cast<double>(ring.partition_count()) *
                      ring.replicas() / ring.members().size();
  return *std::max_element(loads.begin(), loads.end()) / mean;
}

// Member counts the properties are checked at (3..64); not every count
// between, to keep a debug build's run short.
const size_t kSizes[] = {3, 4, 5, 6, 7, 9, 12, 16, 24, 33, 48, 64};

TEST(RingTest, SameRingFromAnyOrderAndDuplicates) {
  std::vector<std::string> ids = Ids(9);
  Ring first(ids, {});
  std::mt19937 shuffle(7);  // only the order varies; any engine will do
  for (int round = 0; round < 5; ++round) {
    std::shuffle(ids.begin(), ids.end(), shuffle);
    std::vector<std::string> twice = ids;
    twice.push_back(ids[round]);
    Ring again(twice, {});
    ASSERT_EQ(again.fingerprint(), first.fingerprint());
    ASSERT_EQ(again.members(), first.members());
    for (uint32_t p = 0; p < first.partition_count(); ++p) {
      ASSERT_EQ(again.OwnerIds(p), first.OwnerIds(p)) << "partition " << p;
    }
  }
  // Another member set or another N is another ring.
  EXPECT_NE(Ring(Ids(8), {}).fingerprint(), first.fingerprint());
  EXPECT_NE(Ring(Ids(9), {.replication_factor = 2}).fingerprint(),
            first.fingerprint());
}

TEST(RingTest, EveryPartitionHasNDistinctOwnersAndLoadsStayUnderTheCap) {
  for (size_t m : kSizes) {
    Ring ring(Ids(m), {});
    ASSERT_EQ(ring.replicas(), 3u);
    uint64_t total = 0;
    for (uint32_t p = 0; p < ring.partition_count(); ++p) {
      auto owners = ring.Owners(p);
      std::set<uint16_t> distinct(owners.begin(), owners.end());
      ASSERT_EQ(distinct.size(), 3u) << m << " members, partition " << p;
      for (uint16_t i : owners) ASSERT_LT(i, m);
      total += owners.size();
    }
    uint64_t loads = 0;
    for (uint32_t load : ring.loads()) loads += load;
    EXPECT_EQ(loads, total);
    EXPECT_LE(MaxOverMean(ring), RingOptions{}.max_load_factor)
        << m << " members";
  }
}

TEST(RingTest, AtMostNMembersEachOwnsEverything) {
  for (size_t m = 1; m <= 3; ++m) {
    Ring ring(Ids(m), {});
    EXPECT_EQ(ring.replicas(), m);
    for (size_t i = 0; i < m; ++i) {
      EXPECT_EQ(ring.loads()[i], ring.partition_count());
    }
  }
  Ring empty({}, {});
  EXPECT_EQ(empty.replicas(), 0u);
  EXPECT_TRUE(empty.Owners(0).empty());
}

TEST(RingTest, AJoinOrALeaveMovesLittleMoreThanItsShare) {
  for (size_t m : kSizes) {
    Ring before(Ids(m), {});
    const double slots =
        static_cast<double>(before.partition_count()) * before.replicas();
    // A join: the ideal is the newcomer's share, 1/(M+1) of the replicas.
    std::vector<std::string> joined = Ids(m);
    joined.push_back("joiner");
    Ring after_join(joined, {});
    const double join_ratio =
        Ring::Moved(before, after_join) / (slots / (m + 1));
    // At least what the newcomer now holds has moved.
    EXPECT_GE(Ring::Moved(before, after_join),
              after_join.loads()[after_join.IndexOf("joiner")]);
    EXPECT_LE(join_ratio, 1.2) << m << " members";
    // A leave: the ideal is what the leaver held, 1/M of the replicas
    // when there are more than N members (at N, nobody moves).
    std::vector<std::string> left = Ids(m);
    const std::string leaver = left[m / 2];
    left.erase(left.begin() + static_cast<long>(m / 2));
    Ring after_leave(left, {});
    const double leave_ideal = m > 3 ? slots / m : 1;
    const double leave_ratio = Ring::Moved(before, after_leave) / leave_ideal;
    if (m > 3) {
      // At least what the leaver held has moved.
      EXPECT_GE(Ring::Moved(before, after_leave),
                before.loads()[before.IndexOf(leaver)]);
      EXPECT_LE(leave_ratio, 1.2) << m << " members";
    } else {
      EXPECT_EQ(Ring::Moved(before, after_leave), 0u);
    }
  }
}

TEST(RingTest, PreferenceListStartsWithTheOwnersAndNamesEveryMember) {
  Ring ring(Ids(7), {});
  for (uint32_t p : {0u, 1u, 4095u, ring.partition_count() - 1}) {
    auto list = ring.PreferenceList(p);
    ASSERT_EQ(list.size(), 7u);
    auto owners = ring.OwnerIds(p);
    EXPECT_TRUE(std::equal(owners.begin(), owners.end(), list.begin()));
    std::set<std::string> distinct(list.begin(), list.end());
    EXPECT_EQ(distinct.size(), 7u);
  }
}

TEST(RingTest, APartitionIsAContiguousRangeOfMerkleSegments) {
  Ring ring(Ids(5), {.partition_bits = 12});
  MerkleTree tree(MerkleShape{.segment_bits = 16, .fanout_bits = 4});
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "key" + std::to_string(i);
    const uint32_t segment = tree.SegmentOfKey(key);
    EXPECT_EQ(ring.PartitionOfKey(key), segment >> 4) << key;
    EXPECT_EQ(ring.PartitionOfKey(key), ring.PartitionOfHash(Hash64(key)));
  }
}

TEST(RingTest, IndexOfAndPartitionsOfAgreeWithOwners) {
  Ring ring(Ids(6), {});
  EXPECT_EQ(ring.IndexOf("nobody"), -1);
  const int n3 = ring.IndexOf("n3");
  ASSERT_GE(n3, 0);
  EXPECT_EQ(ring.members()[n3], "n3");
  auto mine = ring.PartitionsOf(n3);
  EXPECT_EQ(mine.size(), ring.loads()[n3]);
  for (uint32_t p : mine) EXPECT_TRUE(ring.Owns(n3, p));
}

// The ring is part of the protocol: nodes of other builds and machines
// must compute the same owners. These were computed once from the
// algorithm as documented (cluster/ring.h); a change to the hash, its byte
// order, the cap or the tie-breaks shows here first.
TEST(RingTest, OwnersArePinnedAcrossBuilds) {
  Ring ring({"n1", "n2", "n3", "n4", "n5"}, {});
  EXPECT_EQ(ring.OwnerIds(0), (std::vector<std::string>{"n5", "n3", "n4"}));
  EXPECT_EQ(ring.OwnerIds(1), (std::vector<std::string>{"n5", "n4", "n2"}));
  EXPECT_EQ(ring.OwnerIds(12345), (std::vector<std::string>{"n4", "n3", "n2"}));
  EXPECT_EQ(ring.OwnerIds(16383), (std::vector<std::string>{"n2", "n1", "n5"}));
  EXPECT_EQ(ring.loads(),
            (std::vector<uint32_t>{9708, 9835, 9819, 9827, 9963}));
  EXPECT_EQ(ring.fingerprint(), 0xb91b25011cc1ab64u);
}

// Few partitions per member: the cap rounds, and a partition may have to
// go over it (the fallback) — still N distinct owners each.
TEST(RingTest, FewPartitionsStillGiveNDistinctOwners) {
  for (int bits : {2, 4, 6, 9}) {
    for (size_t m : {4, 5, 16, 64}) {
      Ring ring(Ids(m), {.partition_bits = bits});
      for (uint32_t p = 0; p < ring.partition_count(); ++p) {
        auto owners = ring.Owners(p);
        std::set<uint16_t> distinct(owners.begin(), owners.end());
        ASSERT_EQ(distinct.size(), 3u) << bits << " bits, " << m << " members";
      }
    }
  }
}

TEST(RingTest, PartitionRangesJoinsRuns) {
  EXPECT_EQ(PartitionRanges({}), "");
  EXPECT_EQ(PartitionRanges({0, 1, 2, 3, 7, 9, 10}), "0-3,7,9-10");
  EXPECT_EQ(PartitionRanges({5}), "5");
}

}  // namespace
}  // namespace gossipkv
