// A commit in two steps (WriteSet::Stage, then the engine write reported
// with Written / ReplicaDriver::Persisted), as the server's writer thread
// runs it: reads see the staged batch while the engine does not yet, what
// vouches for it stays inside the node until it is durable, the next batch
// gathers meanwhile, and a failed write takes back memory and everything
// computed from it.
#include <gtest/gtest.h>

#include <map>

#include "driver/replica_driver.h"
#include "sim/faulty_engine.h"
#include "storage/memory_engine.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

std::unique_ptr<VersionedStore> OpenStore(Engine& engine, Clock& clock,
                                          Random& random, size_t cache_bytes) {
  StoreOptions options;
  options.entry_cache_bytes = cache_bytes;
  auto store = VersionedStore::Open(engine, "n1", options, clock, random);
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

std::string ValueOf(VersionedStore& store, std::string_view key) {
  auto entry = store.Get(key);
  EXPECT_TRUE(entry);
  if (!entry || !entry->has_value() || (*entry)->IsDeleted()) return "";
  return (*entry)->Winner()->value;
}

std::vector<std::string> SegmentKeys(VersionedStore& store,
                                     std::string_view key) {
  std::vector<std::string> keys;
  EXPECT_TRUE(store
                  .ScanSegment(store.tree().SegmentOfKey(key),
                               [&](std::string_view k, uint64_t) {
                                 keys.emplace_back(k);
                               })
                  .ok());
  return keys;
}

// With no cache, every read that misses the batch goes to the engine: the
// staged batch must answer for the keys it holds until it is written.
TEST(CommitPipelineTest, ReadsSeeTheStagedBatchBeforeTheEngineDoes) {
  ManualClock clock(1'000);
  Random random(1);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random, 0);
  ASSERT_TRUE(store->Write("k", std::string("old")));
  const uint64_t root_before = store->tree().Root();

  ASSERT_TRUE(store->batch().Write("k", std::string("new"), nullptr));
  ASSERT_TRUE(store->batch().Write("fresh", std::string("v"), nullptr));
  ASSERT_TRUE(store->batch().Stage().ok());
  ASSERT_TRUE(store->has_staged());
  EXPECT_EQ(store->batch().size(), 0u);
  EXPECT_FALSE(store->batch().Stage().ok()) << "two batches staged at once";
  EXPECT_FALSE(store->ReloadFromDisk().ok()) << "reloaded under a write";

  auto on_disk = engine.Get(Column::kEntries, store->StorageKey("fresh"));
  ASSERT_TRUE(on_disk);
  EXPECT_FALSE(on_disk->has_value()) << "the engine holds what was not written";
  EXPECT_EQ(ValueOf(*store, "k"), "new");
  EXPECT_EQ(ValueOf(*store, "fresh"), "v");
  EXPECT_NE(store->tree().Root(), root_before);
  const std::vector<std::string> keys = SegmentKeys(*store, "fresh");
  EXPECT_NE(std::find(keys.begin(), keys.end(), "fresh"), keys.end())
      << "a segment scan missed the staged key";
  EXPECT_EQ(
      std::count(keys.begin(), keys.end(), "k"),
      store->tree().SegmentOfKey("k") == store->tree().SegmentOfKey("fresh")
          ? 1
          : 0)
      << "a key both staged and stored is listed once";

  // The next write builds on the staged one: it continues its clock.
  ASSERT_TRUE(store->batch().Write("k", std::string("newer"), nullptr));
  ASSERT_TRUE(engine.Write(store->staged()).ok());
  ASSERT_TRUE(store->Written(Status::Ok()).ok());
  ASSERT_TRUE(store->batch().Commit().ok());
  auto entry = store->Get("k");
  ASSERT_TRUE(entry && entry->has_value());
  EXPECT_EQ((*entry)->siblings.size(), 1u) << "the new write forked its parent";
  EXPECT_EQ(ValueOf(*store, "k"), "newer");
}

// A failed write: memory goes back to what the disk holds, and the batch
// gathered on top of the failed one is dropped with it.
TEST(CommitPipelineTest, AFailedWriteReloadsMemoryAndDropsWhatFollowed) {
  ManualClock clock(1'000);
  Random random(2);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random, 1 << 20);
  ASSERT_TRUE(store->Write("k", std::string("old")));
  const uint64_t root_before = store->tree().Root();
  ASSERT_TRUE(store->batch().Write("k", std::string("lost"), nullptr));
  ASSERT_TRUE(store->batch().Stage().ok());
  ASSERT_TRUE(store->batch().Write("other", std::string("x"), nullptr));
  EXPECT_EQ(ValueOf(*store, "k"), "lost");

  EXPECT_TRUE(store->Written(Status::IOError("disk full")).ok());
  EXPECT_FALSE(store->has_staged());
  EXPECT_EQ(store->batch().size(), 0u) << "changes built on the failure kept";
  EXPECT_EQ(ValueOf(*store, "k"), "old") << "memory kept an unstored value";
  EXPECT_EQ(ValueOf(*store, "other"), "");
  EXPECT_EQ(store->tree().Root(), root_before);
  EXPECT_EQ(store->key_count(), 1u);
}

// A reload that fails halfway (a read error) leaves memory partial: no
// commit succeeds, and no reply built on it, until a reload succeeds.
TEST(CommitPipelineTest, APartialReloadFailsCommitsUntilRedone) {
  ManualClock clock(1'000);
  Random random(6);
  MemoryEngine disk;
  FaultyEngine engine(disk);
  auto store = OpenStore(engine, clock, random, 1 << 20);
  pb::MemberState self;
  self.set_node_id("n1");
  self.set_peer_address("n1");
  self.set_incarnation(1);
  Replica replica(self, ReplicaOptions{}, random, 1'000, store.get());
  ReplicaDriver driver(replica, store.get(), [](Outgoing&) {});
  ASSERT_TRUE(store->Write("k", std::string("v")));

  ASSERT_TRUE(store->batch().Write("lost", std::string("x"), nullptr));
  ASSERT_TRUE(driver.StartCommit());
  engine.FailScans(1);
  driver.Persisted(Status::IOError("injected"));
  ASSERT_TRUE(store->reload_needed());

  ASSERT_TRUE(store->batch().Write("j", std::string("w"), nullptr));
  Status reply = Status::Ok();
  driver.WhenDurable([&](const Status& s) { reply = s; });
  EXPECT_FALSE(driver.StartCommit()) << "a commit from partial memory";
  EXPECT_FALSE(reply.ok()) << "a write computed from partial memory acked";
  EXPECT_FALSE(store->reload_needed()) << "the reload was not tried again";
  EXPECT_EQ(ValueOf(*store, "k"), "v");
  EXPECT_EQ(ValueOf(*store, "j"), "");
  EXPECT_EQ(store->key_count(), 1u);
  ASSERT_TRUE(store->batch().Write("j", std::string("w"), nullptr));
  EXPECT_TRUE(driver.Commit().ok());
  EXPECT_EQ(ValueOf(*store, "j"), "w");
}

class PipelineDriverTest : public ::testing::Test {
 protected:
  PipelineDriverTest()
      : clock_(1'000),
        random_(3),
        store_(OpenStore(engine_, clock_, random_, 0)) {
    pb::MemberState self;
    self.set_node_id("n1");
    self.set_peer_address("n1");
    self.set_incarnation(1);
    ReplicaOptions o;
    o.membership.seeds = {"n0"};
    o.rumor.fanout = 0;
    o.anti_entropy.interval_ms = 0;
    o.gc.interval_ms = 0;
    replica_ = std::make_unique<Replica>(self, o, random_, 1'000, store_.get());
    driver_ = std::make_unique<ReplicaDriver>(
        *replica_, store_.get(),
        [this](Outgoing& o) { sent_.push_back(std::move(o)); });
  }

  // A GC query offering n0's tombstone of `key`.
  pb::PeerMessage Query(const std::string& key, const Entry& tombstone) {
    pb::PeerMessage query;
    query.set_from("n0");
    query.mutable_gc_query()->set_round(++round_);
    auto* offered = query.mutable_gc_query()->add_tombstones();
    offered->set_key(key);
    offered->set_entry(EncodeEntry(tombstone));
    return query;
  }
  int Acks() const {
    int n = 0;
    for (const auto& o : sent_) n += o.message.has_gc_ack();
    return n;
  }
  void Finish(const Status& written) {
    if (written.ok()) ASSERT_TRUE(engine_.Write(store_->staged()).ok());
    driver_->Persisted(written);
    driver_->SendReady();
    driver_->AckReady();
  }

  ManualClock clock_;
  Random random_;
  MemoryEngine engine_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<ReplicaDriver> driver_;
  std::vector<Outgoing> sent_;
  uint64_t round_ = 0;
};

// n1 deletes k (staged, being written); n0 asks whether n1 holds that
// deletion. The answer reads only the staged state — nothing pending — and
// still waits for the write. A reply to a client waits the same way; one
// that depends on the batch gathered meanwhile waits for the next commit.
TEST_F(PipelineDriverTest, WhatVouchesForTheWriteInFlightWaitsForIt) {
  ASSERT_TRUE(store_->Write("k", std::string("v")));
  ASSERT_TRUE(store_->batch().Write("k", std::nullopt, nullptr));
  ASSERT_TRUE(driver_->StartCommit());
  ASSERT_TRUE(driver_->commit_in_flight());
  Entry tombstone = **store_->Get("k");

  driver_->Step(1'000, "n0", Query("k", tombstone));
  EXPECT_EQ(store_->batch().size(), 0u) << "the answer changed nothing";
  EXPECT_EQ(Acks(), 0) << "an ack left before the deletion was durable";
  bool first = false, second = false;
  driver_->WhenDurable([&](const Status& s) { first = s.ok(); });
  ASSERT_TRUE(store_->batch().Write("j", std::string("w"), nullptr));
  driver_->WhenDurable([&](const Status& s) { second = s.ok(); });
  EXPECT_TRUE(driver_->commit_needed());

  Finish(Status::Ok());
  EXPECT_EQ(Acks(), 1);
  EXPECT_TRUE(first);
  EXPECT_FALSE(second) << "completed before its write was even staged";
  ASSERT_TRUE(driver_->commit_needed());
  ASSERT_TRUE(driver_->StartCommit());
  Finish(Status::Ok());
  EXPECT_TRUE(second);
  EXPECT_FALSE(driver_->commit_needed());
  EXPECT_EQ(driver_->stats().commits, 2u);
}

// The write in flight fails: the answer that vouched for it is dropped, the
// replies waiting for it and for the batch gathered on top of it fail, and
// memory is what the disk holds — a later query is answered from that.
TEST_F(PipelineDriverTest, AFailedWriteDropsWhatVouchedForIt) {
  ASSERT_TRUE(store_->Write("k", std::string("v")));
  ASSERT_TRUE(store_->batch().Write("k", std::nullopt, nullptr));
  ASSERT_TRUE(driver_->StartCommit());
  Entry tombstone = **store_->Get("k");
  driver_->Step(1'000, "n0", Query("k", tombstone));
  Status first = Status::Ok(), second = Status::Ok();
  driver_->WhenDurable([&](const Status& s) { first = s; });
  ASSERT_TRUE(store_->batch().Write("j", std::string("w"), nullptr));
  driver_->WhenDurable([&](const Status& s) { second = s; });

  Finish(Status::IOError("no space left"));
  EXPECT_EQ(Acks(), 0) << "an ack for a deletion that was never stored";
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(second.ok()) << "a write computed from the failure succeeded";
  EXPECT_FALSE(driver_->commit_needed());
  EXPECT_EQ(driver_->stats().commit_failures, 1u);
  EXPECT_EQ(driver_->stats().messages_dropped, 1u);
  EXPECT_EQ(ValueOf(*store_, "k"), "v") << "memory kept the failed delete";
  EXPECT_EQ(ValueOf(*store_, "j"), "");

  // Asked again, n1 holds a live value that the tombstone does not cover.
  driver_->Step(2'000, "n0", Query("k", tombstone));
  if (driver_->commit_needed() && driver_->StartCommit()) Finish(Status::Ok());
  ASSERT_EQ(Acks(), 1);
  for (const auto& o : sent_) {
    if (!o.message.has_gc_ack()) continue;
    ASSERT_EQ(o.message.gc_ack().covered_size(), 0)
        << "n1 claims a deletion it does not hold: "
        << o.message.ShortDebugString();
  }
}

// With staged {lo, hi} and stored {hi} in one segment, a scan lists each
// key once, with its staged hash; a staged delete hides the stored key.
TEST(CommitPipelineTest, ASegmentScanListsEachStagedKeyOnce) {
  ManualClock clock(1'000);
  Random random(4);
  MemoryEngine engine;
  StoreOptions options;
  options.merkle.segment_bits = 1;
  options.merkle.fanout_bits = 1;
  options.entry_cache_bytes = 0;
  auto opened = VersionedStore::Open(engine, "n1", options, clock, random);
  ASSERT_TRUE(opened);
  std::unique_ptr<VersionedStore> store = std::move(*opened);
  const std::string lo = "a0";
  std::string hi, gone;
  const uint32_t segment = store->tree().SegmentOfKey(lo);
  for (int j = 0; hi.empty() || gone.empty(); ++j) {
    std::string k = "b" + std::to_string(j);
    if (store->tree().SegmentOfKey(k) != segment) continue;
    (hi.empty() ? hi : gone) = k;
  }
  ASSERT_TRUE(store->Write(hi, std::string("old")));
  ASSERT_TRUE(store->Write(gone, std::string("v")));
  ASSERT_TRUE(store->Write(gone, std::nullopt));
  Entry tombstone = **store->Get(gone);
  ASSERT_TRUE(store->batch().Write(lo, std::string("new-lo"), nullptr));
  ASSERT_TRUE(store->batch().Write(hi, std::string("new-hi"), nullptr));
  ASSERT_TRUE(*store->batch().Collect(gone, tombstone));
  ASSERT_TRUE(store->batch().Stage().ok());
  std::map<std::string, int> seen;
  std::map<std::string, uint64_t> hashes;
  ASSERT_TRUE(store
                  ->ScanSegment(segment,
                                [&](std::string_view k, uint64_t hash) {
                                  ++seen[std::string(k)];
                                  hashes[std::string(k)] = hash;
                                })
                  .ok());
  EXPECT_EQ(seen[lo], 1);
  EXPECT_EQ(seen[hi], 1) << "a key both staged and stored listed twice";
  EXPECT_EQ(seen.count(gone), 0u) << "a staged collection still listed";
  ASSERT_TRUE(engine.Write(store->staged()).ok());
  ASSERT_TRUE(store->Written(Status::Ok()).ok());
  std::map<std::string, uint64_t> after;
  ASSERT_TRUE(store
                  ->ScanSegment(segment,
                                [&](std::string_view k, uint64_t hash) {
                                  after[std::string(k)] = hash;
                                })
                  .ok());
  EXPECT_EQ(after, hashes) << "the staged view differs from the written one";
}

// An anti-entropy answer built while a write is in flight reads the staged
// batch and may wait in the replica's own queue for repair budget. If the
// write fails, that answer must never leave: it would carry a value the
// disk lacks under a dot the node will issue again.
TEST_F(PipelineDriverTest, AQueuedRepairAnswerDiesWithAFailedWrite) {
  ReplicaOptions o;
  o.membership.seeds = {"n0"};
  o.rumor.fanout = 0;
  o.anti_entropy.interval_ms = 0;
  o.anti_entropy.bytes_per_second = 1;  // one answer, then the queue
  o.gc.interval_ms = 0;
  pb::MemberState self;
  self.set_node_id("n1");
  self.set_peer_address("n1");
  self.set_incarnation(1);
  driver_.reset();
  replica_ = std::make_unique<Replica>(self, o, random_, 1'000, store_.get());
  driver_ = std::make_unique<ReplicaDriver>(
      *replica_, store_.get(),
      [this](Outgoing& m) { sent_.push_back(std::move(m)); });
  auto key_hashes = [](uint64_t session, uint32_t segment) {
    pb::PeerMessage m;
    m.set_from("n0");
    m.mutable_ae_key_hashes()->set_session(session);
    m.mutable_ae_key_hashes()->add_segments(segment);
    return m;
  };
  ASSERT_TRUE(store_->Write("a", std::string("durable")));
  ASSERT_TRUE(store_->batch().Write("k", std::string("lost"), nullptr));
  ASSERT_TRUE(driver_->StartCommit());
  driver_->Step(1'000, "n0", key_hashes(1, store_->tree().SegmentOfKey("a")));
  driver_->Step(1'000, "n0", key_hashes(2, store_->tree().SegmentOfKey("k")));
  Finish(Status::IOError("injected"));
  driver_->Tick(1'000'000);  // the budget refills; the queue drains
  for (const auto& m : sent_) {
    if (!m.message.has_ae_entries()) continue;
    for (const auto& e : m.message.ae_entries().entries())
      EXPECT_NE(e.key(), "k") << "a value whose write failed left the node";
  }
  EXPECT_GT(replica_->stats().ae_messages_dropped, 0u)
      << "nothing was queued: the test no longer exercises the queue";
}

}  // namespace
}  // namespace gossipkv
