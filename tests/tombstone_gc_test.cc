// TombstoneCollector on its own, driven by hand: what one round sends, and
// which answers let it collect. The simulated-cluster tests are in
// tombstone_gc_sim_test.cc.
#include "replication/tombstone_gc.h"

#include <gtest/gtest.h>

#include "storage/memory_engine.h"

namespace gossipkv {
namespace {

class TombstoneCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = VersionedStore::Open(engine_, "a", {}, clock_, random_).value();
    pb::MemberState self;
    self.set_node_id("a");
    self.set_peer_address("addr-a");
    self.set_incarnation(1);
    membership_ =
        std::make_unique<Membership>(self, MembershipOptions{}, random_, 0);
    // "b" becomes a member, as gossip would tell.
    pb::PeerMessage gossip;
    auto* b = gossip.mutable_gossip_ack2()->add_states();
    b->set_node_id("b");
    b->set_peer_address("addr-b");
    b->set_incarnation(1);
    b->set_version(1);
    Outbox ignored;
    membership_->Handle(0, "addr-b", gossip, ignored);
    ASSERT_EQ(membership_->CurrentMemberIds(), std::vector<std::string>{"b"});

    ASSERT_TRUE(store_->Write("k", "v"));
    ASSERT_TRUE(store_->Write("k", std::nullopt));
    TombstoneGcOptions options;
    options.interval_ms = 1000;
    collector_ = std::make_unique<TombstoneCollector>(
        *store_, *membership_, random_, options, stats_, 0);
  }

  // Runs the collector until it sends its query; returns the round id.
  uint64_t QueryRound() {
    Outbox out;
    for (int64_t t = 0; t <= 2000 && out.empty(); t += 100)
      collector_->Tick(t, out);
    EXPECT_EQ(out.size(), 1u);
    if (out.size() != 1) return 0;
    EXPECT_EQ(out[0].to, "addr-b");
    EXPECT_EQ(out[0].message.gc_query().tombstones_size(), 1);
    return out[0].message.gc_query().round();
  }
  void Answer(uint64_t round, std::vector<std::string> members, Outbox& out) {
    pb::PeerMessage ack;
    ack.set_from("b");
    ack.mutable_gc_ack()->set_round(round);
    ack.mutable_gc_ack()->add_covered(0);
    for (auto& m : members) ack.mutable_gc_ack()->add_members(m);
    collector_->Handle("addr-b", ack, out);
    ASSERT_TRUE(store_->batch().Commit().ok());
  }

  MemoryEngine engine_;
  ManualClock clock_;
  Random random_{9};
  ReplicationStats stats_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<TombstoneCollector> collector_;
};

TEST_F(TombstoneCollectorTest, CollectsWhenEveryMemberItKnowsCovers) {
  const uint64_t round = QueryRound();
  Outbox out;
  Answer(round, {"b", "a"}, out);
  EXPECT_EQ(store_->key_count(), 0u);
  EXPECT_EQ(stats_.gc_tombstones_collected, 1u);
  // And tells b, which may collect it on the same evidence.
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].message.has_gc_collected());
  EXPECT_EQ(out[0].message.gc_collected().keys(0), "k");
}

// b knows a member c that a has not heard of yet: a's view is incomplete,
// and c may hold the value the tombstone deleted.
TEST_F(TombstoneCollectorTest, AnAnswerNamingAnUnknownMemberStopsTheRound) {
  const uint64_t round = QueryRound();
  Outbox out;
  Answer(round, {"b", "a", "c"}, out);
  EXPECT_EQ(store_->key_count(), 1u);
  EXPECT_EQ(stats_.gc_tombstones_collected, 0u);
  EXPECT_EQ(stats_.gc_rounds_abandoned, 1u);
  EXPECT_TRUE(out.empty());
}

TEST_F(TombstoneCollectorTest, AnAnswerNotCoveringKeepsTheTombstone) {
  const uint64_t round = QueryRound();
  pb::PeerMessage ack;
  ack.set_from("b");
  ack.mutable_gc_ack()->set_round(round);
  Outbox out;
  collector_->Handle("addr-b", ack, out);
  ASSERT_TRUE(store_->batch().Commit().ok());
  EXPECT_EQ(store_->key_count(), 1u);
  EXPECT_TRUE(out.empty());
}

TEST_F(TombstoneCollectorTest, AnAnswerFromAnotherNodeOrRoundCountsForNothing) {
  const uint64_t round = QueryRound();
  pb::PeerMessage ack;
  ack.set_from("mallory");
  ack.mutable_gc_ack()->set_round(round);
  ack.mutable_gc_ack()->add_covered(0);
  Outbox out;
  collector_->Handle("addr-m", ack, out);
  ack.set_from("b");
  ack.mutable_gc_ack()->set_round(round + 1);
  collector_->Handle("addr-b", ack, out);
  ASSERT_TRUE(store_->batch().Commit().ok());
  EXPECT_EQ(store_->key_count(), 1u);
  // The round times out, and a later one can still collect.
  out.clear();
  for (int64_t t = 2000; t <= 40'000 && out.empty(); t += 100)
    collector_->Tick(t, out);
  EXPECT_EQ(stats_.gc_rounds_abandoned, 1u);
  ASSERT_EQ(out.size(), 1u);
  const uint64_t next = out[0].message.gc_query().round();
  EXPECT_NE(next, round);
  out.clear();
  Answer(next, {"a", "b"}, out);
  EXPECT_EQ(store_->key_count(), 0u);
}

}  // namespace
}  // namespace gossipkv
