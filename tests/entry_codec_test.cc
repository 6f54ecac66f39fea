// Canonical encoding and validating decode of entries and contexts.
#include "versioning/entry_codec.h"

#include <gtest/gtest.h>

#include "proto/entry.pb.h"
#include "util/bytes.h"

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
  std::string token = EncodeContext("k", e.clock);
  for (char c : token)
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  auto decoded = DecodeContext("k", token);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, e.clock);
  auto empty = DecodeContext("other", EncodeContext("other", VersionVector()));
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_EQ(*empty, VersionVector());
  for (const char* garbage : {"not a token!", "A", "_____"}) {
    auto bad = DecodeContext("k", garbage);
    ASSERT_FALSE(bad) << garbage;
    EXPECT_EQ(bad.error().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(bad.error().message().rfind("malformed context token", 0), 0u)
        << bad.error().message();
  }
}

TEST(EntryCodecTest, ContextTokenIsBoundToItsKey) {
  Entry e = TwoSiblings(false);
  const std::string token = EncodeContext("k1", e.clock);
  EXPECT_NE(token, EncodeContext("k2", e.clock));
  for (std::string_view other : {"k2", "", "k1 ", "K1"}) {
    auto decoded = DecodeContext(other, token);
    ASSERT_FALSE(decoded) << other;
    EXPECT_EQ(decoded.error().message(),
              "context token was read from another key");
  }
  // An empty clock is bound too: it cannot vouch for another key either.
  EXPECT_FALSE(DecodeContext("k2", EncodeContext("k1", VersionVector())));
}

TEST(EntryCodecTest, ContextTokenWithoutKeyHashIsRefused) {
  // The format before tokens carried a key: the clock entries alone, which
  // is a WriteContext without key_hash on the wire.
  pb::WriteContext old;
  auto* entry = old.add_entries();
  entry->set_node("alpha");
  entry->set_epoch(3);
  entry->set_counter(1);
  std::string bytes;
  ASSERT_TRUE(old.SerializeToString(&bytes));
  for (const std::string& token : {Base64UrlEncode(bytes), std::string()}) {
    auto decoded = DecodeContext("k", token);
    ASSERT_FALSE(decoded) << token;
    EXPECT_NE(decoded.error().message().find("older format"), std::string::npos)
        << decoded.error().message();
  }
}

}  // namespace
}  // namespace gossipkv
