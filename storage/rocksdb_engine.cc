// RocksDBEngine: Engine over RocksDB column families. Scans use an iterator
// with explicit bounds, which RocksDB pins to an implicit snapshot, so every
// scan is consistent; NewSnapshot wraps rocksdb::Snapshot for longer-lived
// views (anti-entropy streaming).
//
// A failed write, or a background error RocksDB reports (a flush that found
// the disk full), stops writes: Write returns that error without calling
// RocksDB until TryResume() succeeds, and RocksDB's own automatic recovery
// is turned off so that nothing writes behind the node's back. TryResume()
// reopens the database: read-only at once, writable once that succeeds.
#include "storage/rocksdb_engine.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>

namespace gossipkv {
namespace {

constexpr std::array<const char*, kColumnCount> kColumnNames = {
    "entries", "meta", "hints"};

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

// An open database and its column families, shared by the engine and its
// snapshots, so a snapshot never outlives the database it reads.
struct Db {
  std::unique_ptr<rocksdb::DB> db;
  Columns columns;

  ~Db() {
    if (!db) return;
    for (auto* h : columns.handles) db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
  }
};

class RocksDBSnapshot final : public EngineReader {
 public:
  explicit RocksDBSnapshot(std::shared_ptr<Db> db)
      : db_(std::move(db)), snapshot_(db_->db->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~RocksDBSnapshot() override { db_->db->ReleaseSnapshot(snapshot_); }

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override {
    return GetWith(db_->db.get(), db_->columns, options_, column, key);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override {
    return ScanWith(db_->db.get(), db_->columns, options_, column, begin, end,
                    visit);
  }

 private:
  std::shared_ptr<Db> db_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

// RocksDB's LOG file, written with plain appends whose failures are
// ignored. RocksDB's own file logger writes through a WritableFileWriter,
// which asserts (Debian's librocksdb keeps its assertions) when it is used
// again after a failed append: on a full disk, the log line RocksDB writes
// about the error aborted the process. A full disk now loses log lines only.
class AppendLogger final : public rocksdb::Logger {
 public:
  explicit AppendLogger(const std::string& path)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0644)) {}
  ~AppendLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    char line[4096];
    timeval now;
    gettimeofday(&now, nullptr);
    tm t;
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line),
                          "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                          t.tm_min, t.tm_sec, static_cast<long>(now.tv_usec));
    const size_t room = sizeof(line) - 1;  // keeps one byte for '\n'
    va_list copy;
    va_copy(copy, ap);
    int m = std::vsnprintf(line + n, sizeof(line) - n, format, copy);
    va_end(copy);
    size_t length = std::min(room, static_cast<size_t>(n + std::max(m, 0)));
    if (length == 0 || line[length - 1] != '\n') line[length++] = '\n';
    ssize_t ignored = ::write(fd_, line, length);
    (void)ignored;
  }

 private:
  int fd_;
};

// Records the first background error RocksDB reports and keeps RocksDB
// from recovering by itself: the engine resumes when the node asks. Called
// on RocksDB's threads.
class ErrorListener final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason,
                         rocksdb::Status* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (message_.empty()) message_ = error->ToString();
    pending_.store(true, std::memory_order_release);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
  // The error recorded since the last Take(), or "" (cheap when none).
  std::string Take() {
    if (!pending_.load(std::memory_order_acquire)) return {};
    std::lock_guard<std::mutex> lock(mu_);
    pending_.store(false, std::memory_order_relaxed);
    return std::exchange(message_, {});
  }

 private:
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  std::string message_;
};

bool OutOfSpace(const rocksdb::Status& s) {
  if (s.IsNoSpace()) return true;
  const std::string text = s.ToString();
  return text.find("No space left") != std::string::npos ||
         text.find("quota exceeded") != std::string::npos;
}

}  // namespace

struct InMemoryDisk::Impl {
  std::unique_ptr<rocksdb::Env> env{
      rocksdb::NewMemEnv(rocksdb::Env::Default())};
};

InMemoryDisk::InMemoryDisk() : impl_(std::make_unique<Impl>()) {}
InMemoryDisk::~InMemoryDisk() = default;

struct RocksDBEngine::State {
  std::string path;
  RocksDBOptions options;
  // Replaced only by TryResume (owner thread), under `mu`; the writer
  // thread copies it under `mu` for each Write.
  std::shared_ptr<Db> db;
  bool read_only = false;
  std::mutex mu;
  // Why writes are refused; empty while they are accepted. Under `mu`.
  std::string write_error;
  uint64_t resumes = 0;
  rocksdb::WriteOptions write_options;
  // Kept across reopenings, so counters run from the first Open.
  std::shared_ptr<rocksdb::Statistics> statistics;
  std::shared_ptr<rocksdb::Logger> logger;
  std::shared_ptr<ErrorListener> listener;

  rocksdb::Status OpenDb(bool read_only_open);
};

rocksdb::Status RocksDBEngine::State::OpenDb(bool read_only_open) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.IncreaseParallelism(2);
  if (options.disk != nullptr) db_options.env = options.disk->impl_->env.get();
  // Required by the hashed memtable; the node writes from one thread anyway.
  db_options.allow_concurrent_memtable_write = false;
  db_options.statistics = statistics;
  db_options.listeners.push_back(listener);
  // The in-memory disk keeps RocksDB's own logger (it writes no real file).
  if (options.disk == nullptr) db_options.info_log = logger;

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
  descriptors.emplace_back(kColumnNames[2], cf_options);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      read_only_open
          ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors,
                                         &handles, &raw)
          : rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return s;
  auto opened = std::make_shared<Db>();
  opened->db.reset(raw);
  // handles[0] is the unused default family; keep ours in Column order.
  raw->DestroyColumnFamilyHandle(handles[0]);
  opened->columns.handles.assign(handles.begin() + 1, handles.end());
  opened->columns.entries_prefix_bytes = options.entries_prefix_bytes;
  db = std::move(opened);
  read_only = read_only_open;
  return s;
}

RocksDBEngine::RocksDBEngine(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
RocksDBEngine::~RocksDBEngine() = default;

Result<std::unique_ptr<RocksDBEngine>> RocksDBEngine::Open(
    const std::string& path, const RocksDBOptions& options) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->options = options;
  state->write_options.sync = options.durability == Durability::kFsync;
  // Tickers only (counters such as WAL syncs): no histograms or timers,
  // which would read the clock on every operation.
  state->statistics = rocksdb::CreateDBStatistics();
  state->statistics->set_stats_level(
      rocksdb::StatsLevel::kExceptHistogramOrTimers);
  state->listener = std::make_shared<ErrorListener>();
  if (options.disk == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    const std::string log = path + "/LOG";
    std::filesystem::rename(log, log + ".old", ec);  // one old log is kept
    state->logger = std::make_shared<AppendLogger>(log);
  }
  rocksdb::Status s = state->OpenDb(false);
  if (!s.ok() && OutOfSpace(s)) {
    // A full disk: serve what is stored, read-only, until there is room.
    state->listener->Take();
    if (state->OpenDb(true).ok()) {
      state->write_error = "opened read-only: " + s.ToString();
      s = rocksdb::Status::OK();
    }
  }
  if (!s.ok()) return FromRocks(s, "open " + path);
  return std::unique_ptr<RocksDBEngine>(new RocksDBEngine(std::move(state)));
}

Result<std::optional<std::string>> RocksDBEngine::Get(Column column,
                                                      std::string_view key) {
  return GetWith(state_->db->db.get(), state_->db->columns,
                 rocksdb::ReadOptions(), column, key);
}

Status RocksDBEngine::Scan(Column column, std::string_view begin,
                           std::string_view end, const ScanVisitor& visit) {
  return ScanWith(state_->db->db.get(), state_->db->columns,
                  rocksdb::ReadOptions(), column, begin, end, visit);
}

Status RocksDBEngine::Writable() {
  std::lock_guard<std::mutex> lock(state_->mu);
  return WritableLocked();
}

Status RocksDBEngine::WritableLocked() {
  if (state_->write_error.empty())
    state_->write_error = state_->listener->Take();
  if (state_->write_error.empty()) return Status::Ok();
  return Status::IOError(state_->write_error);
}

Status RocksDBEngine::Write(const WriteBatch& batch) {
  std::shared_ptr<Db> db;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    GOSSIPKV_RETURN_IF_ERROR(WritableLocked());
    db = state_->db;
  }
  rocksdb::WriteBatch rocks_batch;
  for (const auto& op : batch.ops()) {
    auto* cf = db->columns[op.column];
    rocksdb::Slice key(op.key);
    rocksdb::Status s = op.is_delete ? rocks_batch.Delete(cf, key)
                                     : rocks_batch.Put(cf, key, op.value);
    if (!s.ok()) return FromRocks(s, "batch");
  }
  rocksdb::Status s = db->db->Write(state_->write_options, &rocks_batch);
  // Nothing more goes to RocksDB's files until TryResume() succeeds.
  if (!s.ok() && !s.IsInvalidArgument()) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->listener->Take();
    state_->write_error = s.ToString();
  }
  return FromRocks(s, "write");
}

Status RocksDBEngine::TryResume() {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (WritableLocked().ok()) return Status::Ok();
  // A snapshot (or a write) still uses the open instance, which is about to
  // be replaced.
  if (state_->db.use_count() > 1) return WritableLocked();
  // Less room than one memtable: a reopening could succeed (closing gives
  // back the log's preallocated space) only for the next write to fail.
  uint64_t free = 0;
  rocksdb::Env* env = state_->options.disk != nullptr
                          ? state_->options.disk->impl_->env.get()
                          : rocksdb::Env::Default();
  if (env->GetFreeSpace(state_->path, &free).ok() &&
      free < state_->options.write_buffer_bytes) {
    return WritableLocked();
  }
  if (!state_->read_only) {
    // The writable instance is closed and opened again rather than asked to
    // DB::Resume(): after a failed append to the write-ahead log, Resume()
    // keeps that log's writer when the memtables are empty, and the next
    // write asserts inside RocksDB. A read-only instance, opened first,
    // serves reads until a writable one opens; the writable one's
    // background work (a compaction deleting files) is stopped first, since
    // a read-only instance cannot open next to files being deleted.
    std::shared_ptr<Db> failed = std::move(state_->db);
    failed->db->PauseBackgroundWork().PermitUncheckedError();
    rocksdb::Status s = state_->OpenDb(true);
    if (!s.ok()) {
      failed->db->ContinueBackgroundWork().PermitUncheckedError();
      state_->db = std::move(failed);
      return Status::IOError(state_->write_error +
                             "; cannot reopen read-only: " + s.ToString());
    }
    failed.reset();
  }
  std::shared_ptr<Db> read_only = state_->db;
  rocksdb::Status s = state_->OpenDb(false);
  state_->listener->Take();
  if (!s.ok()) {
    state_->write_error = "opened read-only: " + s.ToString();
    return WritableLocked();
  }
  state_->write_error.clear();
  ++state_->resumes;
  return Status::Ok();
}

bool RocksDBEngine::read_only() const { return state_->read_only; }
uint64_t RocksDBEngine::resumes() const { return state_->resumes; }

std::unique_ptr<EngineReader> RocksDBEngine::NewSnapshot() {
  return std::make_unique<RocksDBSnapshot>(state_->db);
}

uint64_t RocksDBEngine::EstimateLiveBytes() {
  uint64_t total = 0;
  for (auto* h : state_->db->columns.handles) {
    uint64_t v = 0;
    if (state_->db->db->GetIntProperty(h, "rocksdb.estimate-live-data-size",
                                       &v))
      total += v;
  }
  return total;
}

uint64_t RocksDBEngine::WalSyncs() const {
  return state_->statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
}

}  // namespace gossipkv
