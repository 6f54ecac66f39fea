// Dotted-version-vector semantics of single entries: the cases from the DVV
// paper, read-modify-write cycles, contexts and tombstones, LWW mode.
#include "versioning/entry.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "util/random.h"

namespace gossipkv {
namespace {

const Actor kA{"a", 1};
const Actor kB{"b", 7};

std::vector<std::string> Values(const Entry& e) {
  std::vector<std::string> out;
  for (const auto& s : e.siblings)
    out.push_back(s.tombstone ? "<deleted>" : s.value);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EntryTest, PlainWritesReplaceEachOther) {
  Entry e;
  ApplyWrite(e, kA, e.clock, "v1", 10, ConflictMode::kSiblings);
  ApplyWrite(e, kA, e.clock, "v2", 11, ConflictMode::kSiblings);
  ASSERT_EQ(e.siblings.size(), 1u);
  EXPECT_EQ(e.siblings[0].value, "v2");
  EXPECT_EQ(e.clock.Get(kA), 2u);
  EXPECT_EQ(e.siblings[0].dot, (Dot{kA, 2}));
}

// The DVV paper's motivating case: two clients read the same context and
// both write through the same coordinator. Plain version vectors either lose
// one write (1 sibling) or keep a stale one (a growing pile); DVV keeps 2.
TEST(EntryTest, TwoClientsSameContextSameCoordinatorYieldTwoSiblings) {
  Entry e;
  ApplyWrite(e, kA, e.clock, "base", 1, ConflictMode::kSiblings);
  const VersionVector read_context = e.clock;  // both clients read here
  ApplyWrite(e, kA, read_context, "from-client-1", 2, ConflictMode::kSiblings);
  ApplyWrite(e, kA, read_context, "from-client-2", 3, ConflictMode::kSiblings);
  EXPECT_EQ(Values(e),
            (std::vector<std::string>{"from-client-1", "from-client-2"}));
  // A third write with the same stale context replaces neither.
  ApplyWrite(e, kA, read_context, "from-client-3", 4, ConflictMode::kSiblings);
  EXPECT_EQ(e.siblings.size(), 3u);
}

TEST(EntryTest, InterleavedReadModifyWriteNeverExceedsTwoSiblings) {
  // Two clients each loop "read the context, then write with it" through one
  // coordinator; a seeded scheduler interleaves their steps arbitrarily.
  Entry e;
  Random random(42);
  std::optional<VersionVector> read_context[2];
  int cycles = 0;
  size_t most = 0;
  for (int step = 0; cycles < 1000; ++step) {
    int client = static_cast<int>(random.Uniform(2));
    if (!read_context[client]) {
      read_context[client] = e.clock;
      continue;
    }
    ApplyWrite(e, kA, *read_context[client], "c" + std::to_string(client), step,
               ConflictMode::kSiblings);
    read_context[client].reset();
    ++cycles;
    ASSERT_LE(e.siblings.size(), 2u) << "after cycle " << cycles;
    most = std::max(most, e.siblings.size());
  }
  EXPECT_EQ(most, 2u) << "the interleaving never made the writes concurrent";
}

TEST(EntryTest, ContextCoveringAllSiblingsLeavesExactlyOne) {
  Entry a, b;
  ApplyWrite(a, kA, a.clock, "left", 1, ConflictMode::kSiblings);
  ApplyWrite(b, kB, b.clock, "right", 2, ConflictMode::kSiblings);
  Entry merged = Merge(a, b, ConflictMode::kSiblings);
  ASSERT_EQ(merged.siblings.size(), 2u);
  ApplyWrite(merged, kA, merged.clock, "resolved", 3, ConflictMode::kSiblings);
  EXPECT_EQ(Values(merged), (std::vector<std::string>{"resolved"}));
  EXPECT_EQ(merged.clock.Get(kA), 2u);
  EXPECT_EQ(merged.clock.Get(kB), 1u);
}

TEST(EntryTest, TombstonesBehaveAsSiblings) {
  Entry a, b;
  ApplyWrite(a, kA, a.clock, "v", 1, ConflictMode::kSiblings);
  b = a;
  ApplyWrite(a, kA, a.clock, std::nullopt, 5,
             ConflictMode::kSiblings);  // delete on a
  ApplyWrite(b, kB, b.clock, "w", 3,
             ConflictMode::kSiblings);  // concurrent write
  Entry merged = Merge(a, b, ConflictMode::kSiblings);
  EXPECT_EQ(Values(merged), (std::vector<std::string>{"<deleted>", "w"}));
  EXPECT_TRUE(merged.IsDeleted())
      << "the tombstone is newer, so GET sees no value";
  EXPECT_FALSE(merged.AllTombstones());
  // A delete that saw both resolves to one tombstone.
  ApplyWrite(merged, kB, merged.clock, std::nullopt, 9,
             ConflictMode::kSiblings);
  ASSERT_EQ(merged.siblings.size(), 1u);
  EXPECT_TRUE(merged.siblings[0].tombstone);
  // An old write arriving later does not resurrect the key.
  Entry stale;
  ApplyWrite(stale, kA, stale.clock, "v", 1, ConflictMode::kSiblings);
  EXPECT_EQ(Merge(merged, stale, ConflictMode::kSiblings), merged);
}

TEST(EntryTest, WinnerIsHighestTimestampThenHighestDot) {
  Entry a, b;
  ApplyWrite(a, kA, a.clock, "older", 100, ConflictMode::kSiblings);
  ApplyWrite(b, kB, b.clock, "newer", 200, ConflictMode::kSiblings);
  EXPECT_EQ(Merge(a, b, ConflictMode::kSiblings).Winner()->value, "newer");
  Entry c, d;
  ApplyWrite(c, kA, c.clock, "from-a", 100, ConflictMode::kSiblings);
  ApplyWrite(d, kB, d.clock, "from-b", 100, ConflictMode::kSiblings);
  EXPECT_EQ(Merge(c, d, ConflictMode::kSiblings).Winner()->value, "from-b")
      << "tie: dot b > a";
  EXPECT_EQ(Merge(d, c, ConflictMode::kSiblings).Winner()->value, "from-b");
}

TEST(EntryTest, LastWriteWinsKeepsOnlyTheWinner) {
  Entry a, b;
  ApplyWrite(a, kA, a.clock, "older", 100, ConflictMode::kLastWriteWins);
  ApplyWrite(b, kB, b.clock, "newer", 200, ConflictMode::kLastWriteWins);
  Entry ab = Merge(a, b, ConflictMode::kLastWriteWins);
  EXPECT_EQ(Values(ab), (std::vector<std::string>{"newer"}));
  EXPECT_EQ(ab, Merge(b, a, ConflictMode::kLastWriteWins));
  // The loser's dot stays covered, so re-delivering it changes nothing.
  EXPECT_EQ(Merge(ab, a, ConflictMode::kLastWriteWins), ab);
}

TEST(EntryTest, LastWriteWinsCoordinatorBumpsPastTheValueItReplaces) {
  // The coordinator's clock lags the one that wrote the current value; the
  // client's overwrite must still win, as it causally follows.
  Entry e;
  ApplyWrite(e, kB, e.clock, "from-fast-clock", 5000,
             ConflictMode::kLastWriteWins);
  ApplyWrite(e, kA, e.clock, "overwrite", 1000, ConflictMode::kLastWriteWins);
  ASSERT_EQ(e.siblings.size(), 1u);
  EXPECT_EQ(e.Winner()->value, "overwrite");
  EXPECT_EQ(e.Winner()->timestamp_ms, 5001);
}

}  // namespace
}  // namespace gossipkv
