// Collecting tombstones in the store: what Collect removes and refuses, how
// graves absorb stale copies and outlive their bound while young, how the
// floors keep a node from reissuing a dot or stamping a write before the
// deletion it follows after its grave is gone, and that the members GC
// must hear from survive a restart (memory and RocksDB engines).
#include <gtest/gtest.h>

#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"
#include "store/versioned_store.h"
#include "tests/temp_dir.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

class TombstoneStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<VersionedStore> Open(StoreOptions options = {}) {
    auto store = VersionedStore::Open(engine_, "n1", options, clock_, random_);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }
  // Deletes `key` (written first) and returns the tombstone entry.
  Entry WriteThenDelete(VersionedStore& store, const std::string& key) {
    EXPECT_TRUE(store.Write(key, "v"));
    auto deleted = store.Write(key, std::nullopt);
    EXPECT_TRUE(deleted);
    return *deleted;
  }
  bool Collect(VersionedStore& store, const std::string& key,
               const Entry& expected) {
    auto collected = store.batch().Collect(key, expected);
    EXPECT_TRUE(collected);
    EXPECT_TRUE(store.batch().Commit().ok());
    return collected && *collected;
  }

  MemoryEngine engine_;
  ManualClock clock_;
  Random random_{5};
};

TEST_F(TombstoneStoreTest, CollectRemovesTheRecordAndKeepsAGrave) {
  auto store = Open();
  Entry tombstone = WriteThenDelete(*store, "k");
  ASSERT_TRUE(store->Write("live", "x"));
  EXPECT_EQ(store->tombstoned_keys().count("k"), 1u);
  EXPECT_EQ(store->key_count(), 2u);

  ASSERT_TRUE(Collect(*store, "k", tombstone));
  EXPECT_EQ(store->key_count(), 1u);
  EXPECT_EQ(store->live_key_count(), 1u);
  EXPECT_EQ(store->tombstoned_keys().count("k"), 0u);
  EXPECT_EQ(store->tombstones_collected(), 1u);
  EXPECT_EQ(store->grave_count(), 1u);
  auto got = store->Get("k");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  auto stored = engine_.Get(Column::kEntries, store->StorageKey("k"));
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->has_value()) << "the record is gone from the engine";
  // The tree now matches a store that never held the key.
  MemoryEngine other_engine;
  auto other =
      VersionedStore::Open(other_engine, "n1", {}, clock_, random_).value();
  ASSERT_TRUE(other->Merge("live", *store->Get("live").value()));
  EXPECT_EQ(store->tree().Root(), other->tree().Root());
  // The grave still answers for the clock.
  auto clock = store->batch().ClockOf("k");
  ASSERT_TRUE(clock && clock->has_value());
  EXPECT_EQ(**clock, tombstone.clock);
}

TEST_F(TombstoneStoreTest, CollectRefusesAChangedOrLiveEntry) {
  auto store = Open();
  Entry tombstone = WriteThenDelete(*store, "k");
  ASSERT_TRUE(store->Write("k", "again"));
  EXPECT_FALSE(Collect(*store, "k", tombstone)) << "changed since offered";
  auto live = store->Get("k").value();
  ASSERT_TRUE(live.has_value());
  EXPECT_FALSE(Collect(*store, "k", *live)) << "not a tombstone";
  EXPECT_FALSE(Collect(*store, "absent", tombstone));
  EXPECT_EQ(store->key_count(), 1u);
  EXPECT_EQ(store->tombstones_collected(), 0u);
}

TEST_F(TombstoneStoreTest, StaleCopiesMergeIntoTheGraveAndAreNotStored) {
  auto store = Open();
  ASSERT_TRUE(store->Write("k", "old"));
  Entry old_value = *store->Get("k").value();
  auto tombstone = store->Write("k", std::nullopt).value();
  ASSERT_TRUE(Collect(*store, "k", tombstone));

  // The deleted value, and the tombstone itself, arriving late.
  EXPECT_FALSE(store->Merge("k", old_value).value());
  EXPECT_FALSE(store->Merge("k", tombstone).value());
  EXPECT_EQ(store->key_count(), 0u);
  EXPECT_FALSE(store->Get("k").value().has_value());

  // A concurrent write from another node is news: stored, beside the
  // tombstone it did not see.
  Entry concurrent;
  ApplyWrite(concurrent, Actor{"n2", 9}, {}, "theirs", clock_.WallMillis() + 1,
             ConflictMode::kSiblings);
  EXPECT_TRUE(store->Merge("k", concurrent).value());
  auto merged = store->Get("k").value();
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->siblings.size(), 2u);
  EXPECT_TRUE(merged->clock.Descends(tombstone.clock));
  EXPECT_EQ(store->Get("k").value()->Winner()->value, "theirs");
}

TEST_F(TombstoneStoreTest, AWriteAfterCollectionContinuesTheClock) {
  auto store = Open();
  Entry tombstone = WriteThenDelete(*store, "k");
  const uint64_t counter = tombstone.clock.Get(store->self());
  ASSERT_TRUE(Collect(*store, "k", tombstone));
  auto rewritten = store->Write("k", "new").value();
  EXPECT_EQ(rewritten.clock.Get(store->self()), counter + 1);
  EXPECT_EQ(rewritten.siblings.size(), 1u);
  // A replica still holding the tombstone keeps the new value.
  Entry merged = Merge(tombstone, rewritten, ConflictMode::kSiblings);
  ASSERT_EQ(merged.siblings.size(), 1u);
  EXPECT_EQ(merged.siblings[0].value, "new");
}

// Without a grave (evicted), the persisted floor still puts the next dot
// above every collected one.
TEST_F(TombstoneStoreTest, TheFloorSurvivesRestartAndPreventsDotReuse) {
  testing::TempDir dir;
  Entry tombstone;
  Actor self;
  {
    auto engine =
        RocksDBEngine::Open(dir.str(), {Durability::kBuffered}).value();
    auto store =
        VersionedStore::Open(*engine, "n1", {}, clock_, random_).value();
    self = store->self();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->Write("k", "v"));
    tombstone = store->Write("k", std::nullopt).value();
    ASSERT_TRUE(store->batch().Collect("k", tombstone).value());
    ASSERT_TRUE(store->batch().Commit().ok());
    EXPECT_EQ(store->gc_floor(), 5u);
  }
  auto engine = RocksDBEngine::Open(dir.str(), {Durability::kBuffered}).value();
  StoreOptions no_graves;
  no_graves.max_graves = 0;
  auto store =
      VersionedStore::Open(*engine, "n1", no_graves, clock_, random_).value();
  EXPECT_EQ(store->self(), self);
  EXPECT_EQ(store->gc_floor(), 5u);
  EXPECT_EQ(store->grave_count(), 0u);
  auto rewritten = store->Write("k", "new").value();
  EXPECT_EQ(rewritten.clock.Get(self), 6u) << "dot (n1, 1) would be reused";
  // A replica that still holds the tombstone keeps the new value: with a
  // reused dot its clock would cover it and drop it.
  Entry merged = Merge(tombstone, rewritten, ConflictMode::kSiblings);
  ASSERT_EQ(merged.siblings.size(), 1u);
  EXPECT_EQ(merged.siblings[0].value, "new");
  // Keys never collected start above the floor too (harmless, and simple).
  EXPECT_EQ(store->Write("other", "x").value().clock.Get(self), 6u);
}

TEST_F(TombstoneStoreTest, AnAbsentKeyTakesTheTombstoneItIsAskedAbout) {
  auto store = Open();
  const Actor other{"n2", 3};
  Entry value;
  ApplyWrite(value, other, {}, "old", clock_.WallMillis(),
             ConflictMode::kSiblings);
  Entry tombstone = value;
  ApplyWrite(tombstone, other, tombstone.clock, std::nullopt,
             clock_.WallMillis() + 1, ConflictMode::kSiblings);

  // Never held here: covered, by taking the tombstone into a grave.
  EXPECT_TRUE(store->batch().Covers("k", tombstone).value());
  ASSERT_TRUE(store->batch().Commit().ok());
  EXPECT_EQ(store->grave_count(), 1u);
  EXPECT_EQ(store->key_count(), 0u);
  // So the value it deleted, arriving late, is recognised as stale.
  EXPECT_FALSE(store->Merge("k", value).value());
  EXPECT_EQ(store->key_count(), 0u);

  // A stored entry covers it only once it has seen the deletion.
  ASSERT_TRUE(store->Merge("j", value));
  EXPECT_FALSE(store->batch().Covers("j", tombstone).value());
  ASSERT_TRUE(store->Merge("j", tombstone));
  EXPECT_TRUE(store->batch().Covers("j", tombstone).value());
  EXPECT_EQ(store->grave_count(), 1u) << "stored keys need no grave";
}

TEST_F(TombstoneStoreTest, GravesSurviveRestartWithinTheirBound) {
  testing::TempDir dir;
  StoreOptions options;
  options.max_graves = 3;
  options.grave_min_age_ms = 0;  // the count alone bounds them
  Entry old_value;
  {
    auto engine =
        RocksDBEngine::Open(dir.str(), {Durability::kBuffered}).value();
    auto store =
        VersionedStore::Open(*engine, "n1", options, clock_, random_).value();
    for (const char* key : {"a", "b", "c", "d"}) {
      ASSERT_TRUE(store->Write(key, "old"));
      if (std::string(key) == "d") old_value = *store->Get(key).value();
      Entry tombstone = store->Write(key, std::nullopt).value();
      ASSERT_TRUE(store->batch().Collect(key, tombstone).value());
      ASSERT_TRUE(store->batch().Commit().ok());
    }
    EXPECT_EQ(store->grave_count(), 3u);
  }
  auto engine = RocksDBEngine::Open(dir.str(), {Durability::kBuffered}).value();
  // The evicted grave's record went with the next commit, or goes now.
  options.max_graves = 2;
  auto store =
      VersionedStore::Open(*engine, "n1", options, clock_, random_).value();
  EXPECT_EQ(store->grave_count(), 2u);
  EXPECT_EQ(store->corrupt_graves(), 0u);
  EXPECT_FALSE(store->batch().GraveOf("b")) << "the oldest left beyond 2";
  ASSERT_TRUE(store->batch().GraveOf("d"));
  // The value the newest grave deleted, arriving after the restart.
  EXPECT_FALSE(store->Merge("d", old_value).value());
  EXPECT_EQ(store->key_count(), 0u);
  size_t on_disk = 0;
  ASSERT_TRUE(engine
                  ->ScanPrefix(Column::kMeta, "grave:",
                               [&](std::string_view, std::string_view) {
                                 ++on_disk;
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(on_disk, 2u);
}

TEST_F(TombstoneStoreTest, AnUnreadableGraveIsDroppedNotFatal) {
  WriteBatch batch;
  batch.Put(Column::kMeta, "grave:x", "not a grave");
  ASSERT_TRUE(engine_.Write(batch).ok());
  auto store = Open();
  EXPECT_EQ(store->corrupt_graves(), 1u);
  EXPECT_EQ(store->grave_count(), 0u);
  EXPECT_FALSE(engine_.Get(Column::kMeta, "grave:x").value().has_value());
  EXPECT_TRUE(store->Write("x", "fine"));
}

TEST_F(TombstoneStoreTest, GravesAreBoundedOldestFirst) {
  StoreOptions options;
  options.max_graves = 2;
  options.grave_min_age_ms = 0;
  auto store = Open(options);
  for (const char* key : {"a", "b", "c"}) {
    Entry tombstone = WriteThenDelete(*store, key);
    ASSERT_TRUE(Collect(*store, key, tombstone));
  }
  EXPECT_EQ(store->grave_count(), 2u);
  EXPECT_FALSE(store->batch().ClockOf("a").value().has_value());
  EXPECT_TRUE(store->batch().ClockOf("c").value().has_value());
  // A key written again leaves its grave.
  ASSERT_TRUE(store->Write("c", "back"));
  EXPECT_EQ(store->grave_count(), 1u);
}

// A copy of what a young grave deleted may still be on its way: the grave
// outlives the count bound until it is grave_min_age_ms old.
TEST_F(TombstoneStoreTest, GravesYoungerThanTheMinimumAgeOutliveTheBound) {
  StoreOptions options;
  options.max_graves = 1;  // grave_min_age_ms: the default, 60 s
  auto store = Open(options);
  ASSERT_TRUE(store->Write("a", "old"));
  Entry old_value = *store->Get("a").value();
  ASSERT_TRUE(Collect(*store, "a", store->Write("a", std::nullopt).value()));
  clock_.Advance(30'000);
  ASSERT_TRUE(Collect(*store, "b", WriteThenDelete(*store, "b")));
  EXPECT_EQ(store->grave_count(), 2u) << "both younger than 60 s";
  EXPECT_FALSE(store->Merge("a", old_value).value()) << "recognised as stale";
  EXPECT_EQ(store->key_count(), 0u);

  // Past the minimum age, the oldest go down to the bound at the next commit.
  clock_.Advance(30'000);
  ASSERT_TRUE(store->Write("live", "x"));
  EXPECT_EQ(store->grave_count(), 1u);
  EXPECT_FALSE(store->batch().GraveOf("a"));
  EXPECT_TRUE(store->batch().GraveOf("b"));
}

// The grave gone, the key comes back from a peer with a clock that names
// this node below the dots it issued for it. The next write must still not
// reissue one: a replica holding the old tombstone would take it as seen.
TEST_F(TombstoneStoreTest, AWriteOnAKeyTakenBackFromAPeerStaysAboveTheFloor) {
  StoreOptions options;
  options.max_graves = 1;
  auto store = Open(options);
  Entry tombstone = WriteThenDelete(*store, "k");  // dots 1 and 2 of n1
  ASSERT_TRUE(Collect(*store, "k", tombstone));
  clock_.Advance(60'000);
  ASSERT_TRUE(Collect(*store, "other", WriteThenDelete(*store, "other")));
  ASSERT_FALSE(store->batch().GraveOf("k")) << "evicted";

  Entry theirs;  // a fresh write elsewhere, not knowing the old clock
  ApplyWrite(theirs, Actor{"n2", 7}, {}, "theirs", clock_.WallMillis(),
             ConflictMode::kSiblings);
  ASSERT_TRUE(store->Merge("k", theirs).value());
  auto mine = store->Write("k", "mine", &theirs.clock).value();
  EXPECT_GT(mine.clock.Get(store->self()), tombstone.clock.Get(store->self()));
  Entry merged = Merge(tombstone, mine, ConflictMode::kSiblings);
  ASSERT_EQ(merged.siblings.size(), 1u) << merged.ToString();
  EXPECT_EQ(merged.siblings[0].value, "mine");
}

// Under last-write-wins, a write after a deletion must be stamped after it,
// even once the grave that held the deletion's timestamp is gone (and even
// if this node's clock lags the deleter's).
TEST_F(TombstoneStoreTest, UnderLastWriteWinsAWriteAfterTheGraveLeftIsLater) {
  StoreOptions options;
  options.conflict_mode = ConflictMode::kLastWriteWins;
  options.max_graves = 1;
  auto store = Open(options);
  Entry tombstone;  // from a node whose clock runs five minutes ahead
  ApplyWrite(tombstone, Actor{"n2", 7}, {}, std::nullopt,
             clock_.WallMillis() + 300'000, ConflictMode::kLastWriteWins);
  ASSERT_TRUE(store->batch().Covers("k", tombstone).value());  // adopted
  ASSERT_TRUE(store->batch().Commit().ok());
  clock_.Advance(60'000);
  ASSERT_TRUE(Collect(*store, "other", WriteThenDelete(*store, "other")));
  ASSERT_FALSE(store->batch().GraveOf("k")) << "evicted";
  EXPECT_GE(store->timestamp_floor(), tombstone.siblings[0].timestamp_ms);

  auto written = store->Write("k", "after").value();
  EXPECT_GT(written.siblings[0].timestamp_ms,
            tombstone.siblings[0].timestamp_ms);
  // A replica still holding the tombstone keeps the write.
  Entry merged = Merge(tombstone, written, ConflictMode::kLastWriteWins);
  EXPECT_EQ(merged.Winner()->value, "after");
}

// The members tombstone GC must hear from are stored, so a restart, which
// forgets what gossip taught, does not leave a node thinking it is alone.
TEST_F(TombstoneStoreTest, GcMembersSurviveRestart) {
  {
    auto store = Open();
    EXPECT_TRUE(store->gc_members().empty());
    store->batch().SetGcMembers({"n2", "n3"});
    EXPECT_EQ(store->batch().size(), 1u) << "a change to commit";
    ASSERT_TRUE(store->batch().Commit().ok());
  }
  auto store = Open();
  EXPECT_EQ(store->gc_members(), (std::set<std::string>{"n2", "n3"}));
}

TEST_F(TombstoneStoreTest, ReopenFindsTombstonesAndRejectsACorruptFloor) {
  {
    auto store = Open();
    WriteThenDelete(*store, "gone");
    ASSERT_TRUE(store->Write("here", "v"));
  }
  {
    auto store = Open();
    EXPECT_EQ(store->tombstoned_keys(), std::set<std::string>{"gone"});
  }
  WriteBatch batch;
  batch.Put(Column::kMeta, "gc_floor", "xyz");
  ASSERT_TRUE(engine_.Write(batch).ok());
  auto store = VersionedStore::Open(engine_, "n1", {}, clock_, random_);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message().find("gc_floor"), std::string::npos);
}

}  // namespace
}  // namespace gossipkv
