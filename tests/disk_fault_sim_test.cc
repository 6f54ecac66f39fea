// A failing disk under the simulator (sim/faulty_engine.h): a commit whose
// engine write is refused, or stored but reported failed. Either way the
// client hears an error, nothing of the batch leaves the node, and the node
// refuses writes until it reopens its engine; after the reopen the store
// matches its disk (ReplicaDriver::ResumeWrites reloads it), so a batch that
// reached the disk replicates and its dots are never issued again.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sim/simulation.h"
#include "storage/memory_engine.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

ReplicaOptions Options() {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = 500;
  o.membership.seeds = {"n0"};
  o.membership.dead_after_ms = 60'000;
  o.anti_entropy.interval_ms = 0;  // only when the test starts a session
  return o;
}

// Every (key, dot, value) the entries of rumors and repair messages carry,
// and when each was first sent.
class Wire {
 public:
  explicit Wire(Simulation& sim) : sim_(sim) {
    sim.set_send_observer([this](const std::string&, const std::string&,
                                 const pb::PeerMessage& m) { See(m); });
  }
  // When `value` first left any node under any dot; -1 if never.
  int64_t FirstSent(const std::string& value) const {
    auto it = first_sent_.find(value);
    return it == first_sent_.end() ? -1 : it->second;
  }
  // The values sent under (key, dot).
  std::set<std::string> ValuesOf(const std::string& key, const Dot& dot) const {
    auto it = values_.find({key, dot});
    return it == values_.end() ? std::set<std::string>() : it->second;
  }

 private:
  void See(const pb::PeerMessage& m) {
    const auto* entries = m.has_rumor()        ? &m.rumor().entries()
                          : m.has_ae_entries() ? &m.ae_entries().entries()
                                               : nullptr;
    if (entries == nullptr) return;
    for (const auto& ke : *entries) {
      auto entry = DecodeEntry(ke.entry());
      ASSERT_TRUE(entry) << "an entry that does not decode left a node";
      for (const auto& s : entry->siblings) {
        if (s.tombstone) continue;
        values_[{ke.key(), s.dot}].insert(s.value);
        first_sent_.emplace(s.value, sim_.now());
      }
    }
  }

  Simulation& sim_;
  std::map<std::pair<std::string, Dot>, std::set<std::string>> values_;
  std::map<std::string, int64_t> first_sent_;
};

struct Fate {
  bool durable = false, acked = false, failed = false;
};

WriteCallbacks Track(Fate& fate) {
  return {[&fate] { fate.durable = true; }, [&fate] { fate.acked = true; },
          [&fate] { fate.failed = true; }};
}

// The values of `key` at `id`, by dot.
std::map<Dot, std::string> ValuesAt(Simulation& sim, const std::string& id,
                                    const std::string& key) {
  std::map<Dot, std::string> out;
  auto got = sim.Get(id, key);
  EXPECT_TRUE(got);
  if (!got || !got->has_value()) return out;
  for (const auto& s : (*got)->siblings) out[s.dot] = s.value;
  return out;
}

class DiskFaultSimTest : public ::testing::Test {
 protected:
  DiskFaultSimTest()
      : sim_(Simulation::SeedFromEnv(5), NetworkOptions{1, 5, 0, 0}),
        wire_(sim_) {
    FaultOptions faults;
    faults.max_disk_latency_ms = 5;
    sim_.set_faults(faults);
    sim_.AddNode("n0", Options(), true);
    sim_.AddNode("n1", Options(), true);
    sim_.RunFor(3'000);  // membership forms
  }

  // n0 writes k = v1, which reaches n1; then k = v2 on a disk that fails
  // with `fault`. Returns v2's dot.
  Dot WriteThroughAFailingDisk(DiskFault fault, Fate& fate) {
    EXPECT_TRUE(sim_.Write("n0", "k", std::string("v1")));
    sim_.RunFor(1'000);
    EXPECT_EQ(ValuesAt(sim_, "n1", "k").size(), 1u) << "v1 did not replicate";
    sim_.engine("n0").FailNextWrite(fault);
    auto written =
        sim_.Submit("n0", "k", std::string("v2"), nullptr, Track(fate));
    EXPECT_TRUE(written);
    const Actor self = sim_.store("n0").self();
    const Dot dot{self, written->clock.Get(self)};
    sim_.RunFor(50);  // the commit runs, and fails
    EXPECT_EQ(sim_.engine("n0").failures(), 1u);
    EXPECT_TRUE(fate.failed) << "the client was not told of the failure";
    EXPECT_FALSE(fate.acked) << "a failed write was acknowledged";
    EXPECT_EQ(sim_.driver("n0").stats().commit_failures, 1u);
    // Read-only now: writes are refused at once, reads and gossip go on.
    EXPECT_FALSE(sim_.engine("n0").Writable().ok());
    Fate refused;
    EXPECT_FALSE(
        sim_.Submit("n0", "k2", std::string("x"), nullptr, Track(refused)));
    EXPECT_TRUE(sim_.Get("n0", "k"));
    const uint64_t gossip = sim_.traffic().messages;
    sim_.RunFor(3'000);
    EXPECT_GT(sim_.traffic().messages, gossip) << "gossip stopped";
    EXPECT_TRUE(sim_.IsUp("n0"));
    EXPECT_EQ(wire_.FirstSent("v2"), -1) << "the failed batch left n0";
    EXPECT_FALSE(ValuesAt(sim_, "n1", "k").count(dot));
    return dot;
  }

  Simulation sim_;
  Wire wire_;
};

// Refused: nothing reached the disk. After the reopen v2 is absent, and a
// new write that takes v2's counter again is the only value under it.
TEST_F(DiskFaultSimTest, ARefusedWriteIsNeverSentAndIsGoneAfterTheReopen) {
  Fate fate;
  const Dot refused = WriteThroughAFailingDisk(DiskFault::kRefused, fate);
  EXPECT_FALSE(fate.durable) << "a refused batch counted as stored";
  sim_.ReopenDisk("n0");
  ASSERT_TRUE(sim_.engine("n0").Writable().ok());
  EXPECT_FALSE(ValuesAt(sim_, "n0", "k").count(refused)) << "v2 is back";
  for (const auto& [dot, value] : ValuesAt(sim_, "n0", "k"))
    EXPECT_NE(value, "v2");

  auto v3 = sim_.Write("n0", "k", std::string("v3"));
  ASSERT_TRUE(v3);
  sim_.RunFor(1'000);
  sim_.StartAntiEntropy("n1", "n0");
  sim_.RunFor(1'000);
  EXPECT_EQ(sim_.store("n0").tree().Root(), sim_.store("n1").tree().Root());
  const Actor self = sim_.store("n0").self();
  const Dot dot{self, v3->clock.Get(self)};
  for (const char* id : {"n0", "n1"}) {
    auto values = ValuesAt(sim_, id, "k");
    ASSERT_EQ(values.count(dot), 1u) << "v3 missing on " << id;
    EXPECT_EQ(values[dot], "v3") << id;
  }
  EXPECT_EQ(wire_.FirstSent("v2"), -1) << "v2 left n0";
  EXPECT_EQ(wire_.ValuesOf("k", dot), std::set<std::string>{"v3"})
      << "two values under " << dot.ToString();
}

// Stored, reported failed: after the reopen the store reloads its disk, so
// v2 reads back, replicates by anti-entropy, and its dot is never issued
// again.
TEST_F(DiskFaultSimTest, AWriteStoredButReportedFailedReplicatesAfterReload) {
  Fate fate;
  const Dot stored =
      WriteThroughAFailingDisk(DiskFault::kAppliedButFailed, fate);
  EXPECT_TRUE(fate.durable) << "the batch reached the disk";
  EXPECT_EQ(sim_.engine("n0").applied_failures(), 1u);
  const int64_t reopened = sim_.now();
  sim_.ReopenDisk("n0");
  ASSERT_TRUE(sim_.engine("n0").Writable().ok());
  auto values = ValuesAt(sim_, "n0", "k");
  ASSERT_EQ(values.count(stored), 1u) << "n0 does not read back v2";
  EXPECT_EQ(values[stored], "v2");
  EXPECT_NE(sim_.store("n0").tree().Root(), sim_.store("n1").tree().Root())
      << "n0's tree does not show v2";

  sim_.StartAntiEntropy("n0", "n1");
  ASSERT_TRUE(sim_.RunUntil(
      [&] { return ValuesAt(sim_, "n1", "k").count(stored) == 1; }, 5'000, 10))
      << "v2 did not replicate";
  EXPECT_EQ(ValuesAt(sim_, "n1", "k")[stored], "v2");
  EXPECT_GE(wire_.FirstSent("v2"), reopened) << "v2 left before the reopen";
  EXPECT_EQ(sim_.store("n0").tree().Root(), sim_.store("n1").tree().Root());

  auto v3 = sim_.Write("n0", "k", std::string("v3"));
  ASSERT_TRUE(v3);
  const Actor self = sim_.store("n0").self();
  EXPECT_GT(v3->clock.Get(self), stored.counter)
      << "v3 took the dot v2 was stored under";
  sim_.RunFor(1'000);
  EXPECT_EQ(wire_.ValuesOf("k", stored), std::set<std::string>{"v2"})
      << "two values under " << stored.ToString();
}

// By hand: a change computed while the engine refuses writes (a peer's
// entry merged into memory that misses a batch stored but reported failed)
// must never be stored after the reopen: it would replace that batch's
// entry on disk, and the reload would hand out its dot again.
TEST(DiskFaultTest, AChangeMadeWhileRefusingIsNotStoredAfterTheReopen) {
  ManualClock clock(1'000);
  Random random(9);
  MemoryEngine disk;
  FaultyEngine engine(disk);
  auto opened =
      VersionedStore::Open(engine, "n1", StoreOptions{}, clock, random);
  ASSERT_TRUE(opened);
  std::unique_ptr<VersionedStore> store = std::move(*opened);
  pb::MemberState self;
  self.set_node_id("n1");
  self.set_peer_address("n1");
  self.set_incarnation(1);
  Replica replica(self, Options(), random, 1'000, store.get());
  std::vector<Outgoing> sent;
  ReplicaDriver driver(replica, store.get(),
                       [&](Outgoing& o) { sent.push_back(std::move(o)); });
  const Actor me = store->self();

  ASSERT_TRUE(store->Write("k", std::string_view("v0")));
  engine.FailNextWrite(DiskFault::kAppliedButFailed);
  ASSERT_TRUE(store->batch().Write("k", std::string_view("v1"), nullptr));
  ASSERT_FALSE(driver.Commit().ok());
  const Dot v1{me, 2};

  Entry remote;
  ApplyWrite(remote, Actor{"n0", 1}, remote.clock, std::string_view("p"), 5,
             ConflictMode::kSiblings);
  ASSERT_TRUE(store->batch().Merge("k", remote, kRepair));
  ASSERT_TRUE(driver.commit_needed());

  ASSERT_TRUE(driver.ResumeWrites().ok());
  ASSERT_TRUE(engine.Writable().ok());
  EXPECT_FALSE(driver.commit_needed());
  auto got = store->Get("k");
  ASSERT_TRUE(got && got->has_value());
  std::map<Dot, std::string> values;
  for (const auto& s : (*got)->siblings) values[s.dot] = s.value;
  ASSERT_EQ(values.count(v1), 1u)
      << "the stored batch was replaced: " << (*got)->ToString();
  EXPECT_EQ(values[v1], "v1");
  auto next = store->Write("k", std::string_view("v2"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->clock.Get(me), 3u) << "v1's dot issued again";
}

}  // namespace
}  // namespace gossipkv
