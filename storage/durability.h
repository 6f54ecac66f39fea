// Durability: how far a write is stored before the engine reports it
// written. kFsync syncs the write-ahead log; kBuffered leaves it in the OS
// page cache (survives a process crash, not a power loss). Chosen in the
// config and passed to RocksDBEngine (storage/rocksdb_engine.h). A plain
// enum with no dependencies, so config/ can name it without linking
// storage/; any thread.
#pragma once

namespace gossipkv {

enum class Durability { kFsync, kBuffered };

}  // namespace gossipkv
