// VersionedStore: identity and epochs, the incrementally maintained Merkle
// tree against one recomputed from scratch, reopen, corrupt stored bytes.
#include "store/versioned_store.h"

#include <gtest/gtest.h>

#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"
#include "tests/temp_dir.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

// The tree a store should have, computed by decoding every stored entry.
MerkleTree TreeFromEntries(Engine& engine, MerkleShape shape) {
  MerkleTree tree(shape);
  EXPECT_TRUE(engine
                  .Scan(Column::kEntries, "", "",
                        [&](std::string_view k, std::string_view v) {
                          std::string_view key = k.substr(4);
                          auto entry = DecodeEntry(v.substr(1));
                          EXPECT_TRUE(entry) << "key " << key;
                          tree.Add(tree.SegmentOfKey(key),
                                   EntryHash(key, EncodeEntry(*entry)));
                          return true;
                        })
                  .ok());
  return tree;
}

std::unique_ptr<VersionedStore> OpenStore(Engine& engine, Clock& clock,
                                          Random& random,
                                          StoreOptions options = {}) {
  auto store = VersionedStore::Open(engine, "n1", options, clock, random);
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

// 100k random writes and deletes over 20k keys, some grouped into WriteSets.
void RandomWorkload(VersionedStore& store, uint64_t seed, int ops) {
  Random random(seed);
  for (int i = 0; i < ops;) {
    WriteSet set(store);
    int group = 1 + static_cast<int>(random.Uniform(8));
    for (int g = 0; g < group && i < ops; ++g, ++i) {
      std::string key = "key-" + std::to_string(random.Uniform(20000));
      std::optional<std::string_view> value;
      std::string v = "value-" + std::to_string(i);
      if (random.Uniform(4) != 0) value = v;
      ASSERT_TRUE(set.Write(key, value, nullptr));
    }
    ASSERT_TRUE(set.Commit().ok());
  }
}

TEST(VersionedStoreTest, IncrementalTreeEqualsRecomputedAfter100kOps) {
  MemoryEngine engine;
  ManualClock clock;
  Random random(1);
  const MerkleShape shape{16, 4};
  auto store = OpenStore(engine, clock, random, {shape});
  RandomWorkload(*store, 7, 100000);
  EXPECT_EQ(store->tree(), TreeFromEntries(engine, shape));
  uint64_t keys = 0, live = 0;
  ASSERT_TRUE(engine
                  .Scan(Column::kEntries, "", "",
                        [&](std::string_view, std::string_view v) {
                          ++keys;
                          live += DecodeEntry(v.substr(1))->IsDeleted() ? 0 : 1;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(store->key_count(), keys);
  EXPECT_EQ(store->live_key_count(), live);
  EXPECT_LT(live, keys) << "the workload deletes some keys";
  // Reopening rebuilds the same tree from the stored entries.
  const Actor self = store->self();
  auto reopened = OpenStore(engine, clock, random, {shape});
  EXPECT_EQ(reopened->tree(), store->tree());
  EXPECT_EQ(reopened->key_count(), keys);
  EXPECT_EQ(reopened->live_key_count(), live);
  EXPECT_EQ(reopened->self(), self);
  EXPECT_FALSE(reopened->fresh_epoch());
}

TEST(VersionedStoreTest, RocksDBTreeSurvivesReopen) {
  testing::TempDir dir;
  ManualClock clock;
  Random random(2);
  MerkleTree before({16, 4});
  Actor self;
  {
    auto engine = RocksDBEngine::Open(dir.str(), {Durability::kBuffered});
    ASSERT_TRUE(engine);
    auto store = OpenStore(**engine, clock, random);
    EXPECT_TRUE(store->fresh_epoch());
    RandomWorkload(*store, 11, 20000);
    before = store->tree();
    self = store->self();
    EXPECT_EQ(before, TreeFromEntries(**engine, {16, 4}));
  }
  auto engine = RocksDBEngine::Open(dir.str(), {Durability::kBuffered});
  ASSERT_TRUE(engine);
  auto store = OpenStore(**engine, clock, random);
  EXPECT_EQ(store->tree(), before);
  EXPECT_EQ(store->self(), self) << "same data directory, same epoch";
  EXPECT_FALSE(store->fresh_epoch());
}

TEST(VersionedStoreTest, LostDataDirectoryGetsANewEpoch) {
  ManualClock clock;
  Random random(3);
  MemoryEngine first, second;
  auto a = OpenStore(first, clock, random);
  auto b = OpenStore(second, clock, random);
  EXPECT_EQ(a->self().node, b->self().node);
  EXPECT_NE(a->self().epoch, b->self().epoch);
  // So a write by the reborn node is concurrent with, not a replacement of,
  // what the old incarnation wrote with the same counter.
  Entry old_write = *a->Write("k", "old");
  Entry new_write = *b->Write("k", "new");
  EXPECT_EQ(
      Merge(old_write, new_write, ConflictMode::kSiblings).siblings.size(), 2u);
}

TEST(VersionedStoreTest, DataDirectoryOfAnotherNodeIsRefused) {
  ManualClock clock;
  Random random(4);
  MemoryEngine engine;
  OpenStore(engine, clock, random);
  auto other = VersionedStore::Open(engine, "n2", {}, clock, random);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("belongs to node 'n1'"),
            std::string::npos);
}

TEST(VersionedStoreTest, ChangedSegmentBitsRekeysDigests) {
  ManualClock clock;
  Random random(5);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random, {{16, 4}});
  RandomWorkload(*store, 3, 2000);
  auto reshaped = OpenStore(engine, clock, random, {{12, 3}});
  EXPECT_EQ(reshaped->tree(), TreeFromEntries(engine, {12, 3}));
  EXPECT_EQ(reshaped->key_count(), store->key_count());
  EXPECT_EQ(reshaped->live_key_count(), store->live_key_count());
}

TEST(VersionedStoreTest, WriteSetReadsItsOwnWritesAndSkipsNoops) {
  ManualClock clock;
  Random random(6);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random);
  WriteSet set(*store);
  ASSERT_TRUE(set.Write("k", "1", nullptr));
  ASSERT_TRUE(set.Write("k", "2", nullptr));
  EXPECT_EQ((*set.Read("k"))->Winner()->value, "2");
  EXPECT_FALSE(store->Get("k")->has_value()) << "nothing visible before commit";
  ASSERT_TRUE(set.Commit().ok());
  Entry stored = **store->Get("k");
  EXPECT_EQ(stored.siblings.size(), 1u);
  EXPECT_EQ(stored.clock.Get(store->self()), 2u);
  const uint64_t root = store->tree().Root();
  EXPECT_FALSE(*store->Merge("k", stored))
      << "merging what we have changes nothing";
  EXPECT_EQ(store->tree().Root(), root);
}

TEST(VersionedStoreTest, CorruptStoredEntryIsAnErrorNamingTheKey) {
  ManualClock clock;
  Random random(7);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random);
  ASSERT_TRUE(store->Write("good", "v"));
  ASSERT_TRUE(store->Write("victim", "v"));
  const std::string victim = store->StorageKey("victim");
  std::string bytes = **engine.Get(Column::kEntries, victim);
  for (std::string damaged :
       {std::string("\x00\x0a\xff\xff\xff\xff garbage", 12),
        bytes.substr(0, bytes.size() / 2), std::string("\x00", 1)}) {
    WriteBatch b;
    b.Put(Column::kEntries, victim, damaged);
    ASSERT_TRUE(engine.Write(b).ok());
    // A restart reads the damaged disk (nothing cached yet).
    store = OpenStore(engine, clock, random);
    auto got = store->Get("victim");
    ASSERT_FALSE(got);
    EXPECT_TRUE(got.error().IsCorruption());
    EXPECT_NE(got.error().message().find("key 'victim'"), std::string::npos)
        << got.error().ToString();
    auto written = store->Write("victim", "new");
    ASSERT_FALSE(written)
        << "a write must not silently replace unreadable data";
    EXPECT_NE(written.error().message().find("key 'victim'"),
              std::string::npos);
    EXPECT_EQ((*store->Get("good"))->Winner()->value, "v")
        << "other keys still serve";
  }
}

// An engine whose writes can be made to fail, as a full or failing disk.
class FailingEngine final : public Engine {
 public:
  bool fail_writes = false;
  Result<std::optional<std::string>> Get(Column c,
                                         std::string_view k) override {
    return inner_.Get(c, k);
  }
  Status Scan(Column c, std::string_view b, std::string_view e,
              const ScanVisitor& v) override {
    return inner_.Scan(c, b, e, v);
  }
  Status Write(const WriteBatch& batch) override {
    if (fail_writes) return Status::IOError("disk full");
    return inner_.Write(batch);
  }
  std::unique_ptr<EngineReader> NewSnapshot() override {
    return inner_.NewSnapshot();
  }

 private:
  MemoryEngine inner_;
};

TEST(VersionedStoreTest, FailedCommitLeavesNoTrace) {
  ManualClock clock;
  Random random(10);
  FailingEngine engine;
  auto store = OpenStore(engine, clock, random);
  ASSERT_TRUE(store->Write("k", "old"));
  const uint64_t root = store->tree().Root();
  engine.fail_writes = true;
  WriteSet set(*store);
  ASSERT_TRUE(set.Write("k", "new", nullptr));
  ASSERT_TRUE(set.Write("other", "x", nullptr));
  Status s = set.Commit();
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ((*store->Get("k"))->Winner()->value, "old")
      << "the cache shows only stored data";
  EXPECT_FALSE(store->Get("other")->has_value());
  EXPECT_EQ(store->tree().Root(), root);
  EXPECT_EQ(store->key_count(), 1u);
  engine.fail_writes = false;
  ASSERT_TRUE(store->Write("k", "new"));
  EXPECT_EQ((*store->Get("k"))->Winner()->value, "new");
}

// A batch reported failed can still have reached the log, and a reopen of
// the engine replays it (a second store on the same engine plays that part
// here). After ReloadFromDisk the store sees it, its tree matches the disk
// again, and its next write continues past the replayed dot instead of
// issuing it a second time.
TEST(VersionedStoreTest, ReloadFromDiskSeesAWriteItThoughtFailed) {
  ManualClock clock;
  Random random(12);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random);
  ASSERT_TRUE(store->Write("k", "old"));
  {
    Random other_random(13);
    auto replayed = OpenStore(engine, clock, other_random);
    ASSERT_TRUE(replayed->Write("k", "replayed"));
    ASSERT_TRUE(replayed->Write("j", "also"));
  }
  EXPECT_EQ((*store->Get("k"))->Winner()->value, "old") << "stale until reload";
  ASSERT_TRUE(store->ReloadFromDisk().ok());
  EXPECT_EQ((*store->Get("k"))->Winner()->value, "replayed");
  EXPECT_EQ(store->key_count(), 2u);
  EXPECT_EQ(store->tree().Root(),
            TreeFromEntries(engine, MerkleShape{}).Root());
  auto written = store->Write("k", "after");
  ASSERT_TRUE(written);
  EXPECT_EQ(written->clock.Get(store->self()), 3u)
      << "the replayed dot was issued again";
  ASSERT_TRUE(store->batch().Write("x", std::string("y"), nullptr));
  EXPECT_FALSE(store->ReloadFromDisk().ok()) << "reloaded over pending changes";
  ASSERT_TRUE(store->batch().Commit().ok());
}

TEST(VersionedStoreTest, CacheServesRepeatedReadsAndStaysWithinBudget) {
  ManualClock clock;
  Random random(11);
  MemoryEngine engine;
  StoreOptions options;
  options.entry_cache_bytes = 64 * 1024;
  auto store = OpenStore(engine, clock, random, options);
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(store->Write("key" + std::to_string(i), std::string(100, 'v')));
  EXPECT_LE(store->cache().bytes(), 64u * 1024u);
  EXPECT_GT(store->cache().size(), 50u);
  const uint64_t hits = store->cache().hits();
  ASSERT_TRUE(store->Get("key1999"));
  EXPECT_EQ(store->cache().hits(), hits + 1) << "the last write is cached";
  // Evicted keys are read back from the engine, intact.
  EXPECT_EQ((*store->Get("key0"))->Winner()->value, std::string(100, 'v'));
  EXPECT_FALSE(store->Get("never-written")->has_value());
  const uint64_t misses = store->cache().misses();
  EXPECT_FALSE(store->Get("never-written")->has_value());
  EXPECT_EQ(store->cache().misses(), misses) << "absence is cached too";
}

TEST(VersionedStoreTest, CorruptRecordsDoNotStopTheNode) {
  ManualClock clock;
  Random random(8);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random);
  ASSERT_TRUE(store->Write("good", "v"));
  ASSERT_TRUE(store->Write("damaged", "v"));
  WriteBatch b;
  b.Put(Column::kEntries, std::string("\0\1", 2), "short key");  // cannot frame
  b.Put(Column::kEntries, store->StorageKey("empty"), "");       // cannot frame
  b.Put(Column::kEntries, store->StorageKey("damaged"),
        std::string("\0garbage", 8));  // frames, won't decode
  ASSERT_TRUE(engine.Write(b).ok());
  auto reopened = OpenStore(engine, clock, random);
  ASSERT_NE(reopened, nullptr)
      << "a damaged record must not stop the node from opening";
  EXPECT_EQ(reopened->corrupt_records(), 2u);
  EXPECT_EQ(reopened->corrupt_samples().size(), 2u);
  EXPECT_EQ(reopened->key_count(), 2u);
  EXPECT_EQ((*reopened->Get("good"))->Winner()->value, "v");
  auto damaged = reopened->Get("damaged");
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().message().find("key 'damaged'"), std::string::npos);
}

TEST(VersionedStoreTest, EachChangeIsOneRecord) {
  ManualClock clock;
  Random random(9);
  MemoryEngine engine;
  auto store = OpenStore(engine, clock, random);
  ASSERT_TRUE(store->Write("k", "v"));
  std::vector<std::string> keys;
  ASSERT_TRUE(engine
                  .Scan(Column::kEntries, "", "",
                        [&](std::string_view k, std::string_view) {
                          keys.emplace_back(k);
                          return true;
                        })
                  .ok());
  ASSERT_EQ(keys, (std::vector<std::string>{store->StorageKey("k")}));
  // The record is found by a prefix scan of its Merkle segment.
  int in_segment = 0;
  ASSERT_TRUE(engine
                  .ScanPrefix(Column::kEntries, keys[0].substr(0, 4),
                              [&](std::string_view, std::string_view) {
                                return ++in_segment;
                              })
                  .ok());
  EXPECT_EQ(in_segment, 1);
}

// Regression: a peer's entry merged while a client write of the same key
// waited for its group commit used to be committed separately; the client's
// commit then overwrote it and moved the tree from a stale hash, leaving a
// tree that no longer matched the disk. Both now share the store's batch.
TEST(VersionedStoreTest,
     PeerMergeDuringAPendingClientWriteKeepsTreeAndDataTogether) {
  ManualClock clock;
  Random random(12);
  MemoryEngine engine, other_engine;
  auto store = OpenStore(engine, clock, random);
  auto other =
      VersionedStore::Open(other_engine, "n2", {}, clock, random).value();
  ASSERT_TRUE(store->Write("k", "base"));
  ASSERT_TRUE(other->Merge("k", **store->Get("k")));
  Entry remote = *other->Write("k", "from-n2");
  ASSERT_TRUE(store->batch().Write("k", "from-client", nullptr));  // pending
  ASSERT_TRUE(store->batch().Merge("k", remote, 1));               // a rumor
  ASSERT_TRUE(store->batch().Commit().ok());
  EXPECT_EQ(store->tree(), TreeFromEntries(engine, {16, 4}));
  EXPECT_EQ((*store->Get("k"))->siblings.size(), 2u)
      << "both concurrent writes kept";
  // And the observer saw the client origin (0), which wins over the rumor's.
  int seen_origin = -2;
  store->set_commit_observer([&](std::string_view, std::string_view,
                                 int origin) { seen_origin = origin; });
  ASSERT_TRUE(store->batch().Merge("k", *other->Write("k", "again"), 3));
  ASSERT_TRUE(store->batch().Write("k", "client-again", nullptr));
  ASSERT_TRUE(store->batch().Commit().ok());
  EXPECT_EQ(seen_origin, kClientWrite);
  EXPECT_EQ(store->tree(), TreeFromEntries(engine, {16, 4}));
}

}  // namespace
}  // namespace gossipkv
