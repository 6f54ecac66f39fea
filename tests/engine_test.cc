// One test suite run against both Engine implementations: the in-memory
// engine must behave exactly like RocksDB for everything above it.
#include <gtest/gtest.h>

#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"
#include "tests/temp_dir.h"

namespace gossipkv {
namespace {

struct MemoryFactory {
  std::unique_ptr<Engine> Make() { return std::make_unique<MemoryEngine>(); }
};

struct RocksDBFactory {
  testing::TempDir dir;
  std::unique_ptr<Engine> Make() {
    auto engine =
        RocksDBEngine::Open(dir.str(), RocksDBOptions{Durability::kBuffered});
    EXPECT_TRUE(engine) << engine.error().ToString();
    return std::move(*engine);
  }
};

template <typename Factory>
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine_ = factory_.Make(); }
  Factory factory_;
  std::unique_ptr<Engine> engine_;
};

using Factories = ::testing::Types<MemoryFactory, RocksDBFactory>;
class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryFactory> ? "Memory" : "RocksDB";
  }
};
TYPED_TEST_SUITE(EngineTest, Factories, FactoryNames);

std::vector<std::string> Keys(EngineReader& reader, Column column,
                              std::string_view begin = "",
                              std::string_view end = "") {
  std::vector<std::string> keys;
  EXPECT_TRUE(reader
                  .Scan(column, begin, end,
                        [&](std::string_view k, std::string_view) {
                          keys.emplace_back(k);
                          return true;
                        })
                  .ok());
  return keys;
}

TYPED_TEST(EngineTest, GetPutDelete) {
  Engine& e = *this->engine_;
  EXPECT_FALSE(e.Get(Column::kEntries, "k")->has_value());
  WriteBatch b;
  b.Put(Column::kEntries, "k", "v1");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_EQ(**e.Get(Column::kEntries, "k"), "v1");
  b.Clear();
  b.Delete(Column::kEntries, "k");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_FALSE(e.Get(Column::kEntries, "k")->has_value());
}

TYPED_TEST(EngineTest, ColumnsAreSeparate) {
  Engine& e = *this->engine_;
  WriteBatch b;
  b.Put(Column::kEntries, "k", "entry");
  b.Put(Column::kMeta, "k", "meta");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_EQ(**e.Get(Column::kEntries, "k"), "entry");
  EXPECT_EQ(**e.Get(Column::kMeta, "k"), "meta");
  WriteBatch d;
  d.Delete(Column::kEntries, "k");
  ASSERT_TRUE(e.Write(d).ok());
  EXPECT_FALSE(e.Get(Column::kEntries, "k")->has_value());
  EXPECT_EQ(**e.Get(Column::kMeta, "k"), "meta")
      << "a delete touches one column";
}

TYPED_TEST(EngineTest, BatchAppliesInOrder) {
  Engine& e = *this->engine_;
  WriteBatch b;
  b.Put(Column::kMeta, "x", "1");
  b.Delete(Column::kMeta, "x");
  b.Put(Column::kMeta, "y", "1");
  b.Put(Column::kMeta, "y", "2");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_FALSE(e.Get(Column::kMeta, "x")->has_value());
  EXPECT_EQ(**e.Get(Column::kMeta, "y"), "2");
}

TYPED_TEST(EngineTest, ScansAreOrderedAndBounded) {
  Engine& e = *this->engine_;
  WriteBatch b;
  const std::vector<std::string> keys = {"b", "a", "c\xff",
                                         "c", "d", std::string("c\0", 2)};
  for (const auto& k : keys) b.Put(Column::kEntries, k, "v");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_EQ(Keys(e, Column::kEntries),
            (std::vector<std::string>{"a", "b", "c", std::string("c\0", 2),
                                      "c\xff", "d"}));
  EXPECT_EQ(
      Keys(e, Column::kEntries, "b", "d"),
      (std::vector<std::string>{"b", "c", std::string("c\0", 2), "c\xff"}));
  std::vector<std::string> prefixed;
  ASSERT_TRUE(e.ScanPrefix(Column::kEntries, "c",
                           [&](std::string_view k, std::string_view) {
                             prefixed.emplace_back(k);
                             return true;
                           })
                  .ok());
  EXPECT_EQ(prefixed.size(), 3u);
  int visited = 0;
  ASSERT_TRUE(
      e.Scan(Column::kEntries, "", "", [&](std::string_view, std::string_view) {
         return ++visited < 2;
       }).ok());
  EXPECT_EQ(visited, 2) << "returning false stops the scan";
}

TYPED_TEST(EngineTest, GroupPrefixScanMatchesAFilteredFullScan) {
  // Keys shaped like the store's: a 4-byte group (segment) then the key.
  Engine& e = *this->engine_;
  WriteBatch b;
  for (uint32_t i = 0; i < 3000; ++i) {
    std::string key;
    key.push_back(static_cast<char>(0));
    key.push_back(static_cast<char>(i % 7));
    key.push_back(static_cast<char>(0xff));
    key.push_back(static_cast<char>(i % 3));
    b.Put(Column::kEntries, key + "k" + std::to_string(i),
          "v" + std::to_string(i));
  }
  ASSERT_TRUE(e.Write(b).ok());
  const std::string group("\0\x04\xff\x02", 4);
  std::vector<std::string> by_prefix, by_filter;
  ASSERT_TRUE(e.ScanPrefix(Column::kEntries, group,
                           [&](std::string_view k, std::string_view) {
                             by_prefix.emplace_back(k);
                             return true;
                           })
                  .ok());
  for (const auto& k : Keys(e, Column::kEntries)) {
    if (k.compare(0, 4, group) == 0) by_filter.push_back(k);
  }
  size_t expected = 0;
  for (uint32_t i = 0; i < 3000; ++i)
    expected += (i % 7 == 4 && i % 3 == 2) ? 1 : 0;
  EXPECT_EQ(by_prefix.size(), expected);
  EXPECT_EQ(by_prefix, by_filter);
  EXPECT_TRUE(std::is_sorted(by_prefix.begin(), by_prefix.end()));
}

TYPED_TEST(EngineTest, SnapshotIgnoresLaterWrites) {
  Engine& e = *this->engine_;
  WriteBatch b;
  b.Put(Column::kEntries, "a", "old");
  b.Put(Column::kEntries, "b", "old");
  ASSERT_TRUE(e.Write(b).ok());
  auto snapshot = e.NewSnapshot();
  b.Clear();
  b.Put(Column::kEntries, "a", "new");
  b.Delete(Column::kEntries, "b");
  b.Put(Column::kEntries, "c", "new");
  ASSERT_TRUE(e.Write(b).ok());
  EXPECT_EQ(**snapshot->Get(Column::kEntries, "a"), "old");
  EXPECT_EQ(Keys(*snapshot, Column::kEntries),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Keys(e, Column::kEntries), (std::vector<std::string>{"a", "c"}));
}

TYPED_TEST(EngineTest, ScanSeesOneStateEvenIfTheVisitorWrites) {
  Engine& e = *this->engine_;
  WriteBatch b;
  for (int i = 0; i < 100; ++i)
    b.Put(Column::kEntries, "k" + std::to_string(1000 + i), "v");
  ASSERT_TRUE(e.Write(b).ok());
  int seen = 0;
  ASSERT_TRUE(e.Scan(Column::kEntries, "", "",
                     [&](std::string_view k, std::string_view) {
                       WriteBatch w;
                       w.Put(Column::kEntries, std::string(k) + "x",
                             "added during scan");
                       EXPECT_TRUE(e.Write(w).ok());
                       ++seen;
                       return true;
                     })
                  .ok());
  EXPECT_EQ(seen, 100);
}

TEST(RocksDBEngineTest, DataSurvivesReopen) {
  testing::TempDir dir;
  for (Durability d : {Durability::kFsync, Durability::kBuffered}) {
    {
      auto e = RocksDBEngine::Open(dir.str(), RocksDBOptions{d});
      ASSERT_TRUE(e);
      WriteBatch b;
      b.Put(Column::kMeta, "durable",
            d == Durability::kFsync ? "fsync" : "buffered");
      ASSERT_TRUE((*e)->Write(b).ok());
    }
    auto e = RocksDBEngine::Open(dir.str(), RocksDBOptions{d});
    ASSERT_TRUE(e);
    EXPECT_EQ(**(*e)->Get(Column::kMeta, "durable"),
              d == Durability::kFsync ? "fsync" : "buffered");
  }
}

// Writes `n` one-put batches to `engine` and returns its WAL sync count
// after each.
std::vector<uint64_t> WalSyncsAfterWrites(RocksDBEngine& engine, int n) {
  std::vector<uint64_t> syncs;
  for (int i = 0; i < n; ++i) {
    WriteBatch b;
    b.Put(Column::kEntries, "key" + std::to_string(i), "value");
    EXPECT_TRUE(engine.Write(b).ok());
    syncs.push_back(engine.WalSyncs());
  }
  return syncs;
}

TEST(RocksDBEngineTest, FsyncWriteSyncsTheWal) {
  testing::TempDir dir;
  auto e = RocksDBEngine::Open(dir.str(), RocksDBOptions{Durability::kFsync});
  ASSERT_TRUE(e) << e.error().ToString();
  const uint64_t before = (*e)->WalSyncs();
  EXPECT_EQ(WalSyncsAfterWrites(**e, 3),
            (std::vector<uint64_t>{before + 1, before + 2, before + 3}));
}

TEST(RocksDBEngineTest, BufferedWriteDoesNotSyncTheWal) {
  testing::TempDir dir;
  auto e =
      RocksDBEngine::Open(dir.str(), RocksDBOptions{Durability::kBuffered});
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ((*e)->WalSyncs(), 0u);
  EXPECT_EQ(WalSyncsAfterWrites(**e, 3), (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(**(*e)->Get(Column::kEntries, "key2"), "value")
      << "the writes happened";
}

TEST(RocksDBEngineTest, OpenFailureIsAnErrorNotACrash) {
  auto e = RocksDBEngine::Open("/proc/gossipkv-cannot-create-this",
                               RocksDBOptions{});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("/proc/gossipkv-cannot-create-this"),
            std::string::npos);
}

// The value of `key`, or why there is none: never a crash that would leave
// a test's mount behind.
std::string Read(Engine& engine, Column column, const std::string& key) {
  auto value = engine.Get(column, key);
  if (!value) return "<" + value.error().ToString() + ">";
  return value->value_or("<absent>");
}

// A full disk: after the first write RocksDB refuses, the engine refuses
// writes at once and serves reads; it resumes once there is room; and an
// engine opened on a full disk opens read-only.
TEST(RocksDBEngineTest, AFullDiskRefusesWritesAndResumesWhenThereIsRoom) {
  testing::Tmpfs disk(24);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root)";
  // Each is freed once, giving room for more than one memtable, which the
  // engine waits for before it reopens.
  disk.Fill("filler", 6 << 20);
  disk.Fill("reserve1", 5 << 20);
  disk.Fill("reserve2", 5 << 20);
  const std::string path = (disk.path() / "db").string();
  RocksDBOptions options{Durability::kFsync};
  options.block_cache_bytes = 1 << 20;
  options.write_buffer_bytes = 4 << 20;
  const std::string value(100'000, 'v');
  std::vector<std::string> stored;
  WriteBatch small;
  small.Put(Column::kMeta, "m", "x");
  {
    auto e = RocksDBEngine::Open(path, options);
    ASSERT_TRUE(e) << e.error().ToString();
    Status failed;
    for (int i = 0; i < 1000 && failed.ok(); ++i) {
      WriteBatch batch;
      batch.Put(Column::kEntries, "key" + std::to_string(i), value);
      failed = (*e)->Write(batch);
      if (failed.ok()) stored.push_back("key" + std::to_string(i));
    }
    ASSERT_FALSE(failed.ok()) << "the disk never filled";
    EXPECT_NE(failed.message().find("No space left on device"),
              std::string::npos)
        << failed.message();
    EXPECT_FALSE((*e)->Writable().ok());
    const uint64_t syncs = (*e)->WalSyncs();
    EXPECT_FALSE((*e)->Write(small).ok());
    EXPECT_EQ((*e)->WalSyncs(), syncs) << "RocksDB was asked to write again";
    EXPECT_FALSE((*e)->TryResume().ok()) << "resumed on a full disk";
    for (const auto& key : stored)
      ASSERT_EQ(Read(**e, Column::kEntries, key), value) << key;

    std::filesystem::remove(disk.path() / "filler");
    Status resumed = (*e)->TryResume();
    EXPECT_TRUE(resumed.ok()) << resumed.ToString();
    EXPECT_TRUE((*e)->Writable().ok());
    EXPECT_TRUE((*e)->Write(small).ok());
    EXPECT_EQ((*e)->resumes(), 1u);
  }
  disk.Fill("filler2", 64 << 20);
  auto e = RocksDBEngine::Open(path, options);
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_TRUE((*e)->read_only());
  EXPECT_NE((*e)->Writable().message().find("opened read-only"),
            std::string::npos);
  for (const auto& key : stored)
    ASSERT_EQ(Read(**e, Column::kEntries, key), value) << key;
  EXPECT_EQ(Read(**e, Column::kMeta, "m"), "x");
  EXPECT_FALSE((*e)->Write(small).ok());
  EXPECT_FALSE((*e)->TryResume().ok()) << "reopened writable on a full disk";

  std::filesystem::remove(disk.path() / "filler2");
  std::filesystem::remove(disk.path() / "reserve1");
  Status resumed = (*e)->TryResume();
  EXPECT_TRUE(resumed.ok()) << resumed.ToString();
  EXPECT_FALSE((*e)->read_only());

  // Just reopened, the memtables are empty: a write-ahead-log append that
  // fails now, then room again, and the next write must not go to the log
  // writer that failed (RocksDB asserts if it does).
  disk.Fill("filler3", 64 << 20);
  // The log may still have preallocated room for a write or two.
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    WriteBatch fill;
    fill.Put(Column::kEntries, "fill" + std::to_string(i), value);
    refused = !(*e)->Write(fill).ok();
  }
  EXPECT_TRUE(refused) << "a full disk took every write";
  WriteBatch big;
  big.Put(Column::kEntries, "big", value);
  std::filesystem::remove(disk.path() / "filler3");
  std::filesystem::remove(disk.path() / "reserve2");
  resumed = (*e)->TryResume();
  EXPECT_TRUE(resumed.ok()) << resumed.ToString();
  EXPECT_TRUE((*e)->Write(big).ok());
  EXPECT_TRUE((*e)->Write(small).ok());
  EXPECT_EQ(Read(**e, Column::kEntries, "big"), value);
  EXPECT_EQ(Read(**e, Column::kEntries, stored.front()), value);
}

}  // namespace
}  // namespace gossipkv
