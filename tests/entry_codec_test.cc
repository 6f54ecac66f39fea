// Canonical encoding and validating decode of entries and contexts.
#include "replication/entry_codec.h"

#include <gtest/gtest.h>

namespace gossipkv {
namespace {

Entry TwoSiblings(bool reversed_merge) {
  Entry a, b;
  ApplyWrite(a, Actor{"alpha", 3}, a.clock, "x", 10, ConflictMode::kSiblings);
  ApplyWrite(b, Actor{"beta", 9}, b.clock, std::nullopt, 11,
             ConflictMode::kSiblings);
  return reversed_merge ? Merge(b, a, ConflictMode::kSiblings)
                        : Merge(a, b, ConflictMode::kSiblings);
}

TEST(EntryCodecTest, RoundTrip) {
  Entry e = TwoSiblings(false);
  auto decoded = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, e);
}

TEST(EntryCodecTest, SameLogicalEntryHasIdenticalBytes) {
  EXPECT_EQ(EncodeEntry(TwoSiblings(false)), EncodeEntry(TwoSiblings(true)));
}

TEST(EntryCodecTest, EveryTruncationIsAnErrorOrAValidEntry) {
  const std::string bytes = EncodeEntry(TwoSiblings(false));
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto decoded = DecodeEntry(std::string_view(bytes).substr(0, len));
    if (!decoded) {
      EXPECT_TRUE(decoded.error().IsCorruption());
    } else {
      // A prefix that happens to parse must still satisfy the invariants.
      for (const auto& s : decoded->siblings)
        EXPECT_TRUE(decoded->clock.Covers(s.dot));
    }
  }
}

TEST(EntryCodecTest, RejectsInvariantViolations) {
  EXPECT_TRUE(DecodeEntry("\xff\xff\xff garbage").error().IsCorruption());
  Entry e = TwoSiblings(false);
  e.clock = VersionVector();  // siblings no longer covered
  auto decoded = DecodeEntry(EncodeEntry(e));
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message().find("not covered"), std::string::npos);
  Entry empty;
  EXPECT_FALSE(DecodeEntry(EncodeEntry(empty)));
  Entry unsorted = TwoSiblings(false);
  std::swap(unsorted.siblings[0], unsorted.siblings[1]);
  EXPECT_FALSE(DecodeEntry(EncodeEntry(unsorted)));
}

TEST(EntryCodecTest, ContextTokenRoundTripsAndRejectsGarbage) {
  Entry e = TwoSiblings(false);
  std::string token = EncodeContext(e.clock);
  for (char c : token)
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  auto decoded = DecodeContext(token);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, e.clock);
  EXPECT_FALSE(DecodeContext("not a token!"));
  EXPECT_FALSE(DecodeContext("A"));
}

}  // namespace
}  // namespace gossipkv
