// RocksDBEngine: Engine over RocksDB column families. Scans use an iterator
// with explicit bounds, which RocksDB pins to an implicit snapshot, so every
// scan is consistent; NewSnapshot wraps rocksdb::Snapshot for longer-lived
// views (anti-entropy streaming).
#include "storage/rocksdb_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <array>

namespace gossipkv {
namespace {

constexpr std::array<const char*, kColumnCount> kColumnNames = {"entries",
                                                                "meta"};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::IOError(msg);
}

// The handles and per-column facts that reads need, shared by the engine
// and its snapshots.
struct Columns {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // in Column order
  size_t entries_prefix_bytes = 0;

  rocksdb::ColumnFamilyHandle* operator[](Column c) const {
    return handles[static_cast<int>(c)];
  }
  size_t PrefixBytes(Column c) const {
    return c == Column::kEntries ? entries_prefix_bytes : 0;
  }
};

Result<std::optional<std::string>> GetWith(rocksdb::DB* db,
                                           const Columns& columns,
                                           const rocksdb::ReadOptions& options,
                                           Column column,
                                           std::string_view key) {
  std::string value;
  rocksdb::Status s = db->Get(options, columns[column],
                              rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

Status ScanWith(rocksdb::DB* db, const Columns& columns,
                rocksdb::ReadOptions options, Column column,
                std::string_view begin, std::string_view end,
                const ScanVisitor& visit) {
  rocksdb::Slice upper(end.data(), end.size());
  if (!end.empty()) options.iterate_upper_bound = &upper;
  // Exactly one prefix group: the hashed memtable serves it directly.
  // Anything wider needs the total-order view (a merge of the groups).
  const size_t prefix = columns.PrefixBytes(column);
  const bool one_group = prefix > 0 && begin.size() == prefix && !end.empty() &&
                         end == PrefixSuccessor(begin);
  options.total_order_seek = !one_group;
  options.prefix_same_as_start = one_group;
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(options, columns[column]));
  for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid();
       it->Next()) {
    rocksdb::Slice k = it->key(), v = it->value();
    if (!visit(std::string_view(k.data(), k.size()),
               std::string_view(v.data(), v.size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan");
}

class RocksDBSnapshot final : public EngineReader {
 public:
  RocksDBSnapshot(rocksdb::DB* db, const Columns& columns)
      : db_(db), columns_(columns), snapshot_(db->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~RocksDBSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override {
    return GetWith(db_, columns_, options_, column, key);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override {
    return ScanWith(db_, columns_, options_, column, begin, end, visit);
  }

 private:
  rocksdb::DB* db_;
  Columns columns_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

}  // namespace

struct InMemoryDisk::Impl {
  std::unique_ptr<rocksdb::Env> env{
      rocksdb::NewMemEnv(rocksdb::Env::Default())};
};

InMemoryDisk::InMemoryDisk() : impl_(std::make_unique<Impl>()) {}
InMemoryDisk::~InMemoryDisk() = default;

struct RocksDBEngine::State {
  std::unique_ptr<rocksdb::DB> db;
  Columns columns;
  rocksdb::WriteOptions write_options;
  std::shared_ptr<rocksdb::Statistics> statistics;

  ~State() {
    if (!db) return;
    for (auto* h : columns.handles) db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
  }
};

RocksDBEngine::RocksDBEngine(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
RocksDBEngine::~RocksDBEngine() = default;

Result<std::unique_ptr<RocksDBEngine>> RocksDBEngine::Open(
    const std::string& path, const RocksDBOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.IncreaseParallelism(2);
  if (options.disk != nullptr) db_options.env = options.disk->impl_->env.get();
  // Required by the hashed memtable; the node writes from one thread anyway.
  db_options.allow_concurrent_memtable_write = false;
  // Tickers only (counters such as WAL syncs): no histograms or timers,
  // which would read the clock on every operation.
  db_options.statistics = rocksdb::CreateDBStatistics();
  db_options.statistics->set_stats_level(
      rocksdb::StatsLevel::kExceptHistogramOrTimers);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.OptimizeLevelStyleCompaction();
  // Smaller memtables than OptimizeLevelStyleCompaction's 128 MiB: every
  // write first looks its key up, and lookups and inserts walk memtable
  // skiplists whose cache misses grow with their size.
  cf_options.write_buffer_size = options.write_buffer_bytes;
  cf_options.max_write_buffer_number = 4;
  // A whole-key bloom filter per memtable lets a lookup skip the immutable
  // memtables that do not hold the key.
  cf_options.memtable_whole_key_filtering = true;
  cf_options.memtable_prefix_bloom_size_ratio = 0.05;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::ColumnFamilyOptions entries_options = cf_options;
  if (options.entries_prefix_bytes > 0) {
    // Capped, not fixed: a shorter key (never written by the store, but
    // possible in a damaged database) is a group of its own, not a crash.
    entries_options.prefix_extractor.reset(
        rocksdb::NewCappedPrefixTransform(options.entries_prefix_bytes));
    entries_options.memtable_factory.reset(
        rocksdb::NewHashSkipListRepFactory(1 << 17));
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  descriptors.emplace_back(kColumnNames[0], entries_options);
  descriptors.emplace_back(kColumnNames[1], cf_options);

  auto state = std::make_unique<State>();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open " + path);
  state->db.reset(raw);
  state->statistics = db_options.statistics;
  // handles[0] is the unused default family; keep ours in Column order.
  raw->DestroyColumnFamilyHandle(handles[0]);
  state->columns.handles.assign(handles.begin() + 1, handles.end());
  state->columns.entries_prefix_bytes = options.entries_prefix_bytes;
  state->write_options.sync = options.durability == Durability::kFsync;
  return std::unique_ptr<RocksDBEngine>(new RocksDBEngine(std::move(state)));
}

Result<std::optional<std::string>> RocksDBEngine::Get(Column column,
                                                      std::string_view key) {
  return GetWith(state_->db.get(), state_->columns, rocksdb::ReadOptions(),
                 column, key);
}

Status RocksDBEngine::Scan(Column column, std::string_view begin,
                           std::string_view end, const ScanVisitor& visit) {
  return ScanWith(state_->db.get(), state_->columns, rocksdb::ReadOptions(),
                  column, begin, end, visit);
}

Status RocksDBEngine::Write(const WriteBatch& batch) {
  rocksdb::WriteBatch rocks_batch;
  for (const auto& op : batch.ops()) {
    auto* cf = state_->columns[op.column];
    rocksdb::Slice key(op.key);
    rocksdb::Status s = op.is_delete ? rocks_batch.Delete(cf, key)
                                     : rocks_batch.Put(cf, key, op.value);
    if (!s.ok()) return FromRocks(s, "batch");
  }
  return FromRocks(state_->db->Write(state_->write_options, &rocks_batch),
                   "write");
}

std::unique_ptr<EngineReader> RocksDBEngine::NewSnapshot() {
  return std::make_unique<RocksDBSnapshot>(state_->db.get(), state_->columns);
}

uint64_t RocksDBEngine::EstimateLiveBytes() {
  uint64_t total = 0;
  for (auto* h : state_->columns.handles) {
    uint64_t v = 0;
    if (state_->db->GetIntProperty(h, "rocksdb.estimate-live-data-size", &v))
      total += v;
  }
  return total;
}

uint64_t RocksDBEngine::WalSyncs() const {
  return state_->statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
}

}  // namespace gossipkv
