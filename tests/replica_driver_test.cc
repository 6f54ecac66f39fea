// The driver contract (driver/replica_driver.h): nothing that describes
// stored state leaves a node before that state is durable, whether the
// replica is stepped by hand or under the simulator with a crash between
// the steps of a commit.
#include "driver/replica_driver.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "storage/memory_engine.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

std::string Id(int i) { return "n" + std::to_string(i); }

ReplicaOptions GcOptions(int64_t gc_interval_ms) {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = 500;
  o.membership.seeds = {"n0"};
  o.membership.dead_after_ms = 60'000;
  o.rumor.fanout = 0;  // only what the test moves by hand
  o.anti_entropy.interval_ms = 0;
  o.gc.interval_ms = gc_interval_ms;
  o.gc.round_timeout_ms = 1000;
  return o;
}

// Stepped by hand: a GC query that makes the replica adopt a grave (it
// holds nothing for the key) is answered only after the adoption is
// stored; membership gossip goes at once; a reply waits too.
TEST(ReplicaDriverTest, AnAckThatAdoptsAGraveLeavesOnlyAfterItsCommit) {
  ManualClock clock(1'000);
  Random random(7);
  MemoryEngine engine;
  auto opened =
      VersionedStore::Open(engine, "n1", StoreOptions{}, clock, random);
  ASSERT_TRUE(opened);
  std::unique_ptr<VersionedStore> store = std::move(*opened);
  pb::MemberState self;
  self.set_node_id("n1");
  self.set_peer_address("n1");
  self.set_incarnation(1);
  Replica replica(self, GcOptions(0), random, 1'000, store.get());
  std::vector<Outgoing> sent;
  ReplicaDriver driver(replica, store.get(),
                       [&](Outgoing& o) { sent.push_back(std::move(o)); });

  Entry tombstone;
  ApplyWrite(tombstone, Actor{"n0", 1}, tombstone.clock, std::nullopt, 5,
             ConflictMode::kSiblings);
  pb::PeerMessage query;
  query.set_from("n0");
  query.mutable_gc_query()->set_round(1);
  auto* offered = query.mutable_gc_query()->add_tombstones();
  offered->set_key("k");
  offered->set_entry(EncodeEntry(tombstone));
  driver.Step(1'000, "n0", query);
  ASSERT_GT(store->batch().size(), 0u) << "the grave is adopted in the batch";
  EXPECT_TRUE(sent.empty()) << "the ack left before the grave was stored";
  EXPECT_TRUE(driver.commit_needed());

  bool replied = false;
  driver.WhenDurable([&](const Status& s) { replied = s.ok(); });
  EXPECT_FALSE(replied);
  // Heartbeats vouch for nothing on disk: they leave while the ack waits.
  driver.Tick(2'000);
  ASSERT_FALSE(sent.empty()) << "the tick sent no gossip";
  for (const auto& o : sent) {
    EXPECT_TRUE(ReplicaDriver::VouchesForNothing(o.message));
    EXPECT_TRUE(o.message.has_gossip_syn()) << o.message.ShortDebugString();
  }

  ASSERT_TRUE(driver.Commit().ok());
  EXPECT_TRUE(replied);
  bool acked = false;
  for (const auto& o : sent) acked |= o.message.has_gc_ack();
  EXPECT_TRUE(acked) << "the ack leaves with the commit";
  EXPECT_NE(store->batch().GraveOf("k"), nullptr);
  EXPECT_FALSE(driver.commit_needed());
}

// Under the simulator: n2 holds nothing for a deleted key and crashes at
// the commit that would store the grave it adopted to answer the query.
// Had the ack left before that commit, n0 and n1 would collect the
// tombstone while n2 — back without the grave — could still take the
// deleted value from a late message. With the ack held, nobody collects
// until n2 is back and answers from what it stored.
TEST(ReplicaDriverTest, ACrashBeforeTheCommitOfAGcAnswerBlocksCollection) {
  Simulation sim(Simulation::SeedFromEnv(3), NetworkOptions{1, 5, 0, 0});
  FaultOptions faults;
  faults.max_disk_latency_ms = 5;
  faults.max_restart_ms = 20'000;
  sim.set_faults(faults);
  for (int i = 0; i < 3; ++i) sim.AddNode(Id(i), GcOptions(2'000), true);
  sim.RunFor(5'000);  // membership forms
  ASSERT_TRUE(sim.Write("n0", "k", std::string("old")));
  Entry value = **sim.Get("n0", "k");
  ASSERT_TRUE(sim.Write("n0", "k", std::nullopt));
  Entry deleted = **sim.Get("n0", "k");
  ASSERT_TRUE(sim.store("n1").batch().Merge("k", deleted, kRepair));
  ASSERT_TRUE(sim.store("n1").batch().Commit().ok());
  ASSERT_FALSE(sim.Get("n2", "k")->has_value()) << "n2 holds nothing";

  sim.CrashAtNextCommit("n2", CrashPoint::kBeforePersist);
  ASSERT_TRUE(sim.RunUntil([&] { return !sim.IsUp("n2"); }, 10'000, 10))
      << "no GC round reached n2";
  while (!sim.IsUp("n2")) {
    ASSERT_EQ(sim.store("n0").tombstoned_keys().count("k"), 1u)
        << "n0 collected on an answer n2 never stored";
    ASSERT_EQ(sim.store("n1").tombstoned_keys().count("k"), 1u);
    sim.RunFor(50);
  }
  // Back, n2 answers from what it stores, and everyone collects.
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (int i = 0; i < 2; ++i) {
          if (!sim.store(Id(i)).tombstoned_keys().empty()) return false;
        }
        return sim.store("n2").batch().GraveOf("k") != nullptr;
      },
      30'000));
  // The old value arriving late is recognised as deleted.
  pb::PeerMessage stale;
  stale.set_from("n0");
  auto* e = stale.mutable_rumor()->add_entries();
  e->set_key("k");
  e->set_entry(EncodeEntry(value));
  stale.mutable_rumor()->set_hops(1);
  sim.Inject("n0", "n2", stale);
  sim.RunFor(1'000);
  EXPECT_FALSE(sim.Get("n2", "k")->has_value()) << "the deleted value is back";
}

}  // namespace
}  // namespace gossipkv
