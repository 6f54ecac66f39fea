// Property tests: merge is commutative, associative and idempotent over
// entries drawn from random multi-replica histories (writes with fresh and
// stale contexts, deletes, merges in arbitrary order), in both conflict
// modes. A failure prints the seed; rerun with that seed to replay.
#include <gtest/gtest.h>

#include "util/random.h"
#include "versioning/entry.h"

namespace gossipkv {
namespace {

struct History {
  std::vector<Entry> pool;  // every state any replica passed through
};

History RandomHistory(uint64_t seed, ConflictMode mode) {
  Random random(seed);
  const int replicas = 2 + static_cast<int>(random.Uniform(3));
  std::vector<Entry> state(replicas);
  std::vector<Actor> actors;
  for (int i = 0; i < replicas; ++i)
    actors.push_back({"n" + std::to_string(i), 1 + random.Uniform(3)});
  History h;
  std::vector<VersionVector> seen_contexts{{}};
  for (int step = 0; step < 60; ++step) {
    int r = static_cast<int>(random.Uniform(replicas));
    switch (random.Uniform(4)) {
      case 0: {  // plain write or delete
        std::optional<std::string_view> value;
        std::string v = "v" + std::to_string(step);
        if (random.Uniform(5) != 0) value = v;
        ApplyWrite(state[r], actors[r], state[r].clock, value,
                   random.Uniform(50), mode);
        break;
      }
      case 1: {  // write with a stale context some client read earlier
        const auto& ctx = seen_contexts[random.Uniform(seen_contexts.size())];
        ApplyWrite(state[r], actors[r], ctx, "s" + std::to_string(step),
                   random.Uniform(50), mode);
        break;
      }
      default: {  // gossip: merge another replica's state
        int from = static_cast<int>(random.Uniform(replicas));
        state[r] = Merge(state[r], state[from], mode);
      }
    }
    seen_contexts.push_back(state[r].clock);
    if (!state[r].siblings.empty()) h.pool.push_back(state[r]);
  }
  return h;
}

class MergePropertyTest : public ::testing::TestWithParam<ConflictMode> {};

TEST_P(MergePropertyTest, CommutativeAssociativeIdempotent) {
  const ConflictMode mode = GetParam();
  int trials = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    History h = RandomHistory(seed, mode);
    ASSERT_FALSE(h.pool.empty()) << "seed " << seed << " wrote nothing";
    Random pick(seed * 7919);
    for (int trial = 0; trial < 50 && !h.pool.empty(); ++trial) {
      const Entry& a = h.pool[pick.Uniform(h.pool.size())];
      const Entry& b = h.pool[pick.Uniform(h.pool.size())];
      const Entry& c = h.pool[pick.Uniform(h.pool.size())];
      ASSERT_EQ(Merge(a, b, mode), Merge(b, a, mode))
          << "commutativity, seed " << seed;
      ASSERT_EQ(Merge(Merge(a, b, mode), c, mode),
                Merge(a, Merge(b, c, mode), mode))
          << "associativity, seed " << seed;
      ASSERT_EQ(Merge(a, a, mode), a) << "idempotence, seed " << seed;
      ++trials;
      // Invariants: sorted dots, each covered by the clock.
      Entry m = Merge(a, b, mode);
      for (size_t i = 0; i < m.siblings.size(); ++i) {
        ASSERT_TRUE(m.clock.Covers(m.siblings[i].dot)) << "seed " << seed;
        if (i > 0) {
          ASSERT_LT(m.siblings[i - 1].dot, m.siblings[i].dot)
              << "seed " << seed;
        }
      }
      if (mode == ConflictMode::kLastWriteWins) {
        ASSERT_EQ(m.siblings.size(), 1u);
      }
    }
  }
  EXPECT_EQ(trials, 200 * 50);
}

INSTANTIATE_TEST_SUITE_P(BothModes, MergePropertyTest,
                         ::testing::Values(ConflictMode::kSiblings,
                                           ConflictMode::kLastWriteWins),
                         [](const auto& info) {
                           return info.param == ConflictMode::kSiblings
                                      ? "Siblings"
                                      : "Lww";
                         });

}  // namespace
}  // namespace gossipkv
