// RocksDBEngine: the durable Engine. The only file in gossipkv that includes
// RocksDB headers (they stay in rocksdb_engine.cc). Column families
// "entries" and "meta" map to Column values.
//
// Durability: kFsync syncs the write-ahead log before Write returns (RocksDB
// groups concurrent writers into one fsync); kBuffered leaves the log in the
// OS page cache, surviving a process crash but not a power loss.
//
// A full or failing disk: the first write RocksDB refuses (or a background
// error, such as a flush that found no space) stops writes — Write and
// Writable() return that error at once, and RocksDB is not asked to write
// again until TryResume() succeeds. An Open that fails for lack of space
// opens the database read-only instead, so what is stored can be read.
// TryResume() reopens the database: read-only first (reads go on), then
// writable, which succeeds once there is room; it does not try while the
// disk has less free space than one memtable (write_buffer_bytes). RocksDB's
// LOG goes to <path>/LOG through a logger whose failed appends lose lines,
// never the process. Owned by one thread, like every Engine, except that
// Write may run on one other thread (the server's disk writer) while the
// owner reads; the owner calls TryResume only while no Write runs.
#pragma once

#include <memory>
#include <string>

#include "storage/durability.h"
#include "storage/engine.h"

namespace gossipkv {

// A file system in memory (rocksdb::NewMemEnv) that outlives the engines
// opened on it: the simulator's disk, so a crashed node reopens the real
// engine on what it had stored. Owned by one thread.
class InMemoryDisk {
 public:
  InMemoryDisk();
  ~InMemoryDisk();
  InMemoryDisk(const InMemoryDisk&) = delete;
  InMemoryDisk& operator=(const InMemoryDisk&) = delete;

 private:
  friend class RocksDBEngine;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RocksDBOptions {
  Durability durability = Durability::kFsync;
  // Block cache for reads, shared by all column families.
  size_t block_cache_bytes = 64 << 20;
  // Memtable size per column family.
  size_t write_buffer_bytes = 16 << 20;
  // Keys of the entries column start with a group prefix of this many bytes
  // (the store puts the Merkle segment there). The memtable then hashes by
  // that prefix into many small skiplists instead of one big one, which
  // made random-key writes about 1.5x faster; a scan of exactly one group
  // stays cheap, a scan across groups pays a merge. 0: one plain skiplist.
  size_t entries_prefix_bytes = 4;
  // Files live on this disk instead of the file system (must outlive the
  // engine); null: the real file system.
  InMemoryDisk* disk = nullptr;
};

class RocksDBEngine final : public Engine {
 public:
  // Opens (creating if missing) the database in `path`.
  static Result<std::unique_ptr<RocksDBEngine>> Open(
      const std::string& path, const RocksDBOptions& options);
  ~RocksDBEngine() override;

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override;
  Status Write(const WriteBatch& batch) override;
  std::unique_ptr<EngineReader> NewSnapshot() override;
  Status Writable() override;
  Status TryResume() override;

  // True while the database is open read-only (Open found no space).
  bool read_only() const;
  // Times TryResume() made a refusing engine accept writes again.
  uint64_t resumes() const;

  // RocksDB's estimate of live data bytes, for INFO.
  uint64_t EstimateLiveBytes();
  // Write-ahead-log syncs since Open, from RocksDB's statistics (the
  // WAL_FILE_SYNCED ticker): one per synced write group, so one per Write
  // under kFsync (writes come from one thread) and none under kBuffered.
  // For INFO and the durability tests.
  uint64_t WalSyncs() const;

 private:
  struct State;
  explicit RocksDBEngine(std::unique_ptr<State> state);
  Status WritableLocked();
  std::unique_ptr<State> state_;
};

}  // namespace gossipkv
