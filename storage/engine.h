// Engine: the narrow storage interface under gossipkv's versioned store.
//
// An Engine is an ordered byte-key/byte-value store with three column
// families (entries, meta, hints), atomic multi-key write batches, point
// reads, and ordered range scans over a consistent snapshot. Two
// implementations exist: RocksDBEngine (storage/rocksdb_engine.h, the only
// file that includes RocksDB) and MemoryEngine (tests and simulation); both
// pass tests/engine_test.cc.
//
// Threading: an Engine is owned by one node's event-loop thread; callers do
// not share it across threads. RocksDB's own background threads (flush,
// compaction) are invisible behind this interface.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace gossipkv {

enum class Column : int {
  kEntries = 0,  // Merkle segment (be32) ++ key -> flags ++ canonical Entry
  kMeta = 1,     // node identity, schema version, graves, GC state
  // Hinted handoff: owner id (be32 length ++ bytes) ++ partition (be32) ++
  // key -> canonical Entry held for that owner
  kHints = 2,
};
inline constexpr int kColumnCount = 3;

// An ordered list of puts and deletes applied atomically by Engine::Write.
class WriteBatch {
 public:
  struct Op {
    Column column;
    bool is_delete;
    std::string key;
    std::string value;
  };

  void Put(Column column, std::string_view key, std::string_view value) {
    ops_.push_back({column, false, std::string(key), std::string(value)});
  }
  // Put, taking ownership of key and value instead of copying them.
  void PutMoved(Column column, std::string key, std::string value) {
    ops_.push_back({column, false, std::move(key), std::move(value)});
  }
  void Delete(Column column, std::string_view key) {
    ops_.push_back({column, true, std::string(key), {}});
  }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

 private:
  std::vector<Op> ops_;
};

// Visits one key/value pair of a scan; return false to stop early. The views
// are valid only during the call.
using ScanVisitor =
    std::function<bool(std::string_view key, std::string_view value)>;

// Read access: point lookups and ordered scans. Every scan sees one
// consistent state of the store, whatever writes happen meanwhile.
class EngineReader {
 public:
  virtual ~EngineReader() = default;

  // The value, std::nullopt when absent, or an error.
  virtual Result<std::optional<std::string>> Get(Column column,
                                                 std::string_view key) = 0;

  // Visits keys in [begin, end) in ascending byte order; an empty `end`
  // means "to the last key".
  virtual Status Scan(Column column, std::string_view begin,
                      std::string_view end, const ScanVisitor& visit) = 0;

  // Visits every key starting with `prefix`.
  Status ScanPrefix(Column column, std::string_view prefix,
                    const ScanVisitor& visit);
};

class Engine : public EngineReader {
 public:
  // Applies every op of the batch, or none of them.
  virtual Status Write(const WriteBatch& batch) = 0;

  // A frozen view of the store as of now; later writes are invisible to it.
  virtual std::unique_ptr<EngineReader> NewSnapshot() = 0;

  // Ok while writes are accepted; else why they are refused (a full or
  // failing disk), and Write fails with it at once. Reads keep working.
  virtual Status Writable() { return Status::Ok(); }
  // Tries to accept writes again; what Writable() then returns.
  virtual Status TryResume() { return Writable(); }
};

// The smallest key greater than every key starting with `prefix`, or "" when
// there is none (prefix is all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix);

}  // namespace gossipkv
