// VersionedStore: identity and epochs, the incrementally maintained Merkle
// tree against one recomputed from scratch, reopen, corrupt stored bytes.
#include "replication/versioned_store.h"

#include <gtest/gtest.h>

#include "replication/entry_codec.h"
#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"
#include "tests/temp_dir.h"

namespace gossipkv {
namespace {

// The tree a store should have, computed from the entries column alone.
MerkleTree TreeFromEntries(Engine& engine, MerkleShape shape) {
  MerkleTree tree(shape);
  EXPECT_TRUE(engine
                  .Scan(Column::kEntries, "", "",
                        [&](std::string_view k, std::string_view v) {
                          tree.Add(tree.SegmentOfKey(k), EntryHash(k, v));
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
  uint64_t keys = 0;
  ASSERT_TRUE(
      engine.Scan(Column::kEntries, "", "", [&](auto, auto) { return ++keys; })
          .ok());
  EXPECT_EQ(store->key_count(), keys);
  // Reopening rebuilds the same tree from the digests column.
  const Actor self = store->self();
  auto reopened = OpenStore(engine, clock, random, {shape});
  EXPECT_EQ(reopened->tree(), store->tree());
  EXPECT_EQ(reopened->key_count(), keys);
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
  std::string bytes = **engine.Get(Column::kEntries, "victim");
  for (std::string damaged :
       {std::string("\x0a\xff\xff\xff\xff garbage"),
        bytes.substr(0, bytes.size() / 2), std::string()}) {
    WriteBatch b;
    b.Put(Column::kEntries, "victim", damaged);
    ASSERT_TRUE(engine.Write(b).ok());
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
  }
  EXPECT_EQ((*store->Get("good"))->Winner()->value, "v")
      << "other keys still serve";
}

TEST(VersionedStoreTest, CorruptDigestRecordFailsOpenWithAClearError) {
  ManualClock clock;
  Random random(8);
  MemoryEngine engine;
  OpenStore(engine, clock, random);
  WriteBatch b;
  b.Put(Column::kDigests, std::string("\0\0\0\1bad", 7), "short");
  ASSERT_TRUE(engine.Write(b).ok());
  auto reopened = VersionedStore::Open(engine, "n1", {}, clock, random);
  ASSERT_FALSE(reopened);
  EXPECT_NE(reopened.error().message().find("key 'bad'"), std::string::npos);
}

}  // namespace
}  // namespace gossipkv
