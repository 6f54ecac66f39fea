// The incarnation counter, the forgotten and the other members, stored in
// meta: the incarnation grows by one at every start and past any state of
// this node from a newer incarnation, across store reopens; CLUSTER
// FORGET's refusals, and a forgotten member stays forgotten after a
// restart; the other members are known again after one.
#include <gtest/gtest.h>

#include "replication/replica.h"
#include "storage/memory_engine.h"
#include "util/bytes.h"

namespace gossipkv {
namespace {

class MemberRecordTest : public ::testing::Test {
 protected:
  // Opens the store on the same engine, as a restarted node does, and
  // starts a replica on it with the next incarnation.
  void Boot() {
    replica_.reset();
    store_.reset();
    store_ = VersionedStore::Open(engine_, "a", {}, clock_, random_).value();
    Status stored;
    pb::MemberState self;
    self.set_node_id("a");
    self.set_peer_address("addr-a");
    self.set_incarnation(Replica::NextIncarnation(*store_, &stored));
    ASSERT_TRUE(stored.ok()) << stored.ToString();
    ReplicaOptions options;
    options.membership.dead_after_ms = 1000;
    replica_ = std::make_unique<Replica>(
        self, options, random_, clock_.MonotonicMillis(), store_.get());
  }
  // Delivers `state` as gossip from `from`, then stores what changed.
  void Tell(const pb::MemberState& state, const std::string& from = "b") {
    pb::PeerMessage m;
    m.set_from(from);
    *m.mutable_gossip_ack2()->add_states() = state;
    Outbox out;
    replica_->Step(clock_.MonotonicMillis(), "addr-" + from, m, out);
    ASSERT_TRUE(store_->batch().Commit().ok());
  }
  static pb::MemberState State(const std::string& id, uint64_t incarnation) {
    pb::MemberState s;
    s.set_node_id(id);
    s.set_peer_address("addr-" + id);
    s.set_incarnation(incarnation);
    s.set_version(1);
    return s;
  }
  uint64_t Incarnation() { return replica_->membership().self().incarnation(); }

  ManualClock clock_{1'000};
  Random random_{5};
  MemoryEngine engine_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(MemberRecordTest, TheIncarnationGrowsAtEveryStartAndRefutation) {
  Boot();
  EXPECT_EQ(Incarnation(), 1u);
  Boot();
  EXPECT_EQ(Incarnation(), 2u);
  // Whatever the clock says.
  clock_.Set(0);
  Boot();
  EXPECT_EQ(Incarnation(), 3u);
  EXPECT_EQ(store_->member_record().incarnation, 3u);

  // Someone holds a state of this node from incarnation 40 (the node lost
  // its counter since): it jumps past it, and stores that.
  Tell(State("a", 40));
  EXPECT_EQ(Incarnation(), 41u);
  EXPECT_EQ(replica_->membership().refutations(), 1u);
  EXPECT_EQ(store_->member_record().incarnation, 41u);
  // An older one changes nothing.
  Tell(State("a", 7));
  EXPECT_EQ(Incarnation(), 41u);
  Boot();
  EXPECT_EQ(Incarnation(), 42u);
}

TEST_F(MemberRecordTest, ForgetRefusesSelfAliveAndUnknownAndIsStored) {
  Boot();
  Tell(State("b", 3));
  EXPECT_TRUE(replica_->membership().Knows("b"));
  Status self = replica_->Forget("a");
  EXPECT_EQ(self.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(self.message().find("itself"), std::string::npos);
  Status alive = replica_->Forget("b");
  EXPECT_EQ(alive.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(alive.message().find("b is alive"), std::string::npos);
  EXPECT_EQ(replica_->Forget("nobody").code(), Status::Code::kNotFound);

  // Silent long enough: suspect, then dead.
  Outbox out;
  for (int i = 0; i < 100; ++i) {
    clock_.Advance(1'000);
    replica_->Tick(clock_.MonotonicMillis(), out);
  }
  ASSERT_EQ(replica_->membership().LivenessOf("b"), Liveness::kDead);
  ASSERT_TRUE(replica_->Forget("b").ok());
  EXPECT_TRUE(replica_->Forget("b").ok()) << "forgetting again is no error";
  EXPECT_FALSE(replica_->membership().Knows("b"));
  ASSERT_TRUE(store_->batch().Commit().ok());
  EXPECT_EQ(store_->member_record().forgotten.at("b"), 3u);

  // A ghost only tombstone GC remembers can be forgotten too.
  store_->batch().SetGcMembers({"ghost"});
  ASSERT_TRUE(store_->batch().Commit().ok());
  ASSERT_TRUE(replica_->Forget("ghost").ok());
  ASSERT_TRUE(store_->batch().Commit().ok());

  Boot();
  EXPECT_TRUE(replica_->membership().IsForgotten("b"));
  EXPECT_TRUE(replica_->membership().IsForgotten("ghost"));
  // Its gossip, and its return at a later incarnation, are refused.
  Tell(State("b", 99), "c");
  Tell(State("b", 100), "b");
  EXPECT_FALSE(replica_->membership().Knows("b"));
  EXPECT_EQ(replica_->membership().refused_messages(), 1u);
  EXPECT_EQ(replica_->membership().TakeNewlyRefused(),
            std::vector<std::string>{"b"});
}

TEST_F(MemberRecordTest, AMalformedRecordIsAnErrorNamingIt) {
  WriteBatch batch;
  batch.Put(Column::kMeta, "forgotten",
            std::string("\0\0\0\x09"
                        "abc",
                        7));
  ASSERT_TRUE(engine_.Write(batch).ok());
  auto loaded = MemberRecord::Load(engine_);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("forgotten"), std::string::npos);
  WriteBatch incarnation;
  incarnation.Put(Column::kMeta, "forgotten", "");
  incarnation.Put(Column::kMeta, "incarnation", "abc");
  ASSERT_TRUE(engine_.Write(incarnation).ok());
  loaded = MemberRecord::Load(engine_);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("incarnation"), std::string::npos);
}

TEST_F(MemberRecordTest, MembersAreStoredAndKnownAfterARestart) {
  Boot();
  Tell(State("b", 4));
  Tell(State("c", 2), "c");
  Boot();
  const Membership& m = replica_->membership();
  ASSERT_TRUE(m.Knows("b"));
  ASSERT_TRUE(m.Knows("c"));
  EXPECT_EQ(m.AddressOf("c"), "addr-c");
  EXPECT_EQ(m.LivePeerAddresses().size(), 2u);  // gossiped with at once
  EXPECT_EQ(replica_->ring().members(),
            (std::vector<std::string>{"a", "b", "c"}));
  // Gossip of the stored incarnation supersedes the restored state; a
  // state of an earlier one does not (it says nothing newer).
  EXPECT_EQ(m.Members(clock_.MonotonicMillis())[1].incarnation, 4u);
  pb::MemberState stale_left = State("b", 3);
  stale_left.set_version(50);
  stale_left.set_status(pb::MEMBER_LEFT);
  Tell(stale_left);
  EXPECT_NE(m.LivenessOf("b"), Liveness::kLeft);
  Tell(State("b", 5));
  EXPECT_EQ(m.Members(clock_.MonotonicMillis())[1].incarnation, 5u);
  // One that left is no longer stored.
  pb::MemberState left = State("c", 2);
  left.set_version(9);
  left.set_status(pb::MEMBER_LEFT);
  Tell(left, "c");
  EXPECT_EQ(store_->member_record().members.count("c"), 0u);
  Boot();
  EXPECT_FALSE(replica_->membership().Knows("c"));
  EXPECT_EQ(replica_->ring().members(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(MemberRecordTest, MalformedMembersAreLeftOutNotAnError) {
  const std::string records[] = {
      std::string("\0\0\0\x01"
                  "b\0\0",
                  7),                         // truncated
      std::string("\0\0\0\0\0\0\0\x01x", 9),  // an empty id
      std::string("\0\0\0\x01"
                  "b\0\0\0\x01x\0",
                  11),  // a short incarnation
  };
  for (const auto& bytes : records) {
    WriteBatch batch;
    batch.Put(Column::kMeta, "members", bytes);
    ASSERT_TRUE(engine_.Write(batch).ok());
    auto loaded = MemberRecord::Load(engine_);
    ASSERT_TRUE(loaded) << loaded.error().ToString();
    EXPECT_TRUE(loaded->members.empty());
    EXPECT_TRUE(loaded->members_malformed);
  }
  Boot();  // the node starts, and stores a good record again
  Tell(State("b", 4));
  auto loaded = MemberRecord::Load(engine_);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->members_malformed);
  EXPECT_EQ(loaded->members.count("b"), 1u);
}

// A start whose incarnation could not be stored (here: changes were
// pending; in a server, a full disk) still announces the bumped one; it is
// stored with the first commit after, so the next start goes past it.
TEST_F(MemberRecordTest, AnIncarnationNotStoredAtStartIsStoredLater) {
  Boot();
  const uint64_t first = Incarnation();
  replica_.reset();
  store_.reset();
  store_ = VersionedStore::Open(engine_, "a", {}, clock_, random_).value();
  ASSERT_TRUE(store_->batch().Write("k", std::string("v"), nullptr));
  Status stored;
  pb::MemberState self;
  self.set_node_id("a");
  self.set_peer_address("addr-a");
  self.set_incarnation(Replica::NextIncarnation(*store_, &stored));
  ASSERT_FALSE(stored.ok()) << "the test no longer fails the start's store";
  ASSERT_EQ(self.incarnation(), first + 1);
  EXPECT_EQ(store_->member_record().incarnation, first);
  replica_ = std::make_unique<Replica>(self, ReplicaOptions{}, random_,
                                       clock_.MonotonicMillis(), store_.get());
  Outbox out;
  replica_->Tick(clock_.MonotonicMillis(), out);
  ASSERT_TRUE(store_->batch().Commit().ok());
  EXPECT_EQ(store_->member_record().incarnation, first + 1)
      << "the announced incarnation was never stored";
  Boot();
  EXPECT_EQ(Incarnation(), first + 2);
}

}  // namespace
}  // namespace gossipkv
