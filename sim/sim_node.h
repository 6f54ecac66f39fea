// Simulation::Node: one simulated node's process and disk, shared by the
// simulator's own files (sim/simulation.cc, sim/sim_commit.cc) only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace gossipkv {

struct Simulation::Node {
  int index = 0;
  std::string id;
  ReplicaOptions options;
  std::unique_ptr<Random> random;
  std::unique_ptr<NodeClock> clock;
  bool with_store = false;
  StoreOptions store_options;
  std::unique_ptr<MemoryEngine> memory;  // SimEngine::kMemory: the disk
  std::unique_ptr<InMemoryDisk> disk;    // SimEngine::kRocksDB: the disk
  std::unique_ptr<RocksDBEngine> rocks;  // reopened at every boot
  std::unique_ptr<FaultyEngine> faulty;  // over either; new at every boot
  std::unique_ptr<VersionedStore> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<ReplicaDriver> driver;
  // `durable` callbacks of the client writes in the current batch, and in
  // the batch being written.
  std::vector<std::function<void()>> durable;
  std::vector<std::function<void()>> writing_durable;
  bool writing = false;             // a staged batch's write is in progress
  uint64_t write_id = 0;            // which write a kWritten event completes
  std::optional<CrashPoint> crash;  // where the write in progress crashes
  std::optional<CrashPoint> crash_next;
  // A membership-only node's incarnation counter (with a store, the store
  // keeps it).
  uint64_t incarnation = 0;
  bool up = true;
  bool commit_scheduled = false;
  uint64_t generation = 0;  // bumped at every boot and crash
  int group = 0;
};

}  // namespace gossipkv
