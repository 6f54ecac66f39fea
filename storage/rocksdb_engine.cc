// RocksDBEngine: Engine over RocksDB column families. Scans use an iterator
// with explicit bounds, which RocksDB pins to an implicit snapshot, so every
// scan is consistent; NewSnapshot wraps rocksdb::Snapshot for longer-lived
// views (anti-entropy streaming).
#include "storage/rocksdb_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <array>

namespace gossipkv {
namespace {

constexpr std::array<const char*, kColumnCount> kColumnNames = {
    "entries", "digests", "meta"};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::IOError(msg);
}

Result<std::optional<std::string>> GetWith(rocksdb::DB* db,
                                           rocksdb::ColumnFamilyHandle* cf,
                                           const rocksdb::ReadOptions& options,
                                           std::string_view key) {
  std::string value;
  rocksdb::Status s =
      db->Get(options, cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

Status ScanWith(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                rocksdb::ReadOptions options, std::string_view begin,
                std::string_view end, const ScanVisitor& visit) {
  rocksdb::Slice upper(end.data(), end.size());
  if (!end.empty()) options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf));
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

}  // namespace

struct RocksDBEngine::State {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::WriteOptions write_options;

  rocksdb::ColumnFamilyHandle* cf(Column c) const {
    return handles[static_cast<int>(c)];
  }

  ~State() {
    for (auto* h : handles) {
      if (db) db->DestroyColumnFamilyHandle(h);
    }
    if (db) db->Close().PermitUncheckedError();
  }
};

namespace {

class RocksDBSnapshot final : public EngineReader {
 public:
  RocksDBSnapshot(rocksdb::DB* db,
                  std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(db), handles_(std::move(handles)), snapshot_(db->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~RocksDBSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override {
    return GetWith(db_, handles_[static_cast<int>(column)], options_, key);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override {
    return ScanWith(db_, handles_[static_cast<int>(column)], options_, begin,
                    end, visit);
  }

 private:
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

}  // namespace

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

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.OptimizeLevelStyleCompaction();
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kColumnNames)
    descriptors.emplace_back(name, cf_options);

  auto state = std::make_unique<State>();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open " + path);
  state->db.reset(raw);
  // handles[0] is the unused default family; keep ours in Column order.
  raw->DestroyColumnFamilyHandle(handles[0]);
  state->handles.assign(handles.begin() + 1, handles.end());
  state->write_options.sync = options.durability == Durability::kFsync;
  return std::unique_ptr<RocksDBEngine>(new RocksDBEngine(std::move(state)));
}

Result<std::optional<std::string>> RocksDBEngine::Get(Column column,
                                                      std::string_view key) {
  return GetWith(state_->db.get(), state_->cf(column), rocksdb::ReadOptions(),
                 key);
}

Status RocksDBEngine::Scan(Column column, std::string_view begin,
                           std::string_view end, const ScanVisitor& visit) {
  return ScanWith(state_->db.get(), state_->cf(column), rocksdb::ReadOptions(),
                  begin, end, visit);
}

Status RocksDBEngine::Write(const WriteBatch& batch) {
  rocksdb::WriteBatch rocks_batch;
  for (const auto& op : batch.ops()) {
    rocksdb::Slice key(op.key);
    rocksdb::Status s =
        op.is_delete ? rocks_batch.Delete(state_->cf(op.column), key)
                     : rocks_batch.Put(state_->cf(op.column), key, op.value);
    if (!s.ok()) return FromRocks(s, "batch");
  }
  return FromRocks(state_->db->Write(state_->write_options, &rocks_batch),
                   "write");
}

std::unique_ptr<EngineReader> RocksDBEngine::NewSnapshot() {
  return std::make_unique<RocksDBSnapshot>(state_->db.get(), state_->handles);
}

uint64_t RocksDBEngine::EstimateLiveBytes() {
  uint64_t total = 0;
  for (auto* h : state_->handles) {
    uint64_t v = 0;
    if (state_->db->GetIntProperty(h, "rocksdb.estimate-live-data-size", &v))
      total += v;
  }
  return total;
}

}  // namespace gossipkv
