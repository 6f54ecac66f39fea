// Tombstone GC measured in the simulator, at the default settings (gossip
// every 1 s, anti-entropy every 10 s, a GC round every 30 s offering 1,000
// tombstones, every 3 s while there is a backlog): `keys` keys with
// 100-byte values are written, replicated, then all deleted; the run ends
// when no replica stores a record.
//
// Printed per cluster size: the time from the deletes until every replica
// collected every tombstone, the GC traffic (queries and answers) per
// collected tombstone per node, and that traffic against the peer figure
// measured in the same run — the bytes the deletes themselves took to
// replicate (rumors and repair until every replica held them) — and the
// records each replica stores before and after.
//
//   build/release/bench/tombstone_gc [keys]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

std::string Id(int i) { return "n" + std::to_string(i); }

uint64_t GcBytes(Simulation& sim) {
  uint64_t bytes = 0;
  for (const auto& id : sim.node_ids())
    bytes += sim.replica(id).stats().gc_bytes_sent;
  return bytes;
}

bool RootsEqual(Simulation& sim) {
  const auto ids = sim.node_ids();
  for (const auto& id : ids) {
    if (sim.store(id).tree().Root() != sim.store(ids[0]).tree().Root())
      return false;
  }
  return true;
}

bool Empty(Simulation& sim) {
  for (const auto& id : sim.node_ids()) {
    if (sim.store(id).key_count() != 0) return false;
  }
  return true;
}

void Run(int nodes, int keys) {
  Simulation sim(nodes * 7 + 1, NetworkOptions{1, 5, 0, 0});
  ReplicaOptions options;
  options.membership.seeds = {Id(0), Id(1)};
  for (int i = 0; i < nodes; ++i) sim.AddNode(Id(i), options, true);
  sim.RunFor(10'000);
  const std::string value(100, 'v');
  for (int k = 0; k < keys; ++k) {
    if (!sim.Write(Id(k % nodes), "key" + std::to_string(k), value)) abort();
    if (k % 100 == 99) sim.RunFor(10);
  }
  if (!sim.RunUntil([&] { return RootsEqual(sim); }, 120'000)) abort();
  const uint64_t records_before = sim.store(Id(0)).key_count();

  // The deletes, until every replica holds all of them: the peer figure.
  const uint64_t traffic_before = sim.traffic().bytes;
  const uint64_t gc_before = GcBytes(sim);
  for (int k = 0; k < keys; ++k) {
    if (!sim.Write(Id(k % nodes), "key" + std::to_string(k), std::nullopt))
      abort();
    if (k % 100 == 99) sim.RunFor(10);
  }
  const int64_t deleted_at = sim.now();
  if (!sim.RunUntil(
          [&] {
            for (const auto& id : sim.node_ids()) {
              if (sim.store(id).live_key_count() != 0) return false;
            }
            return true;
          },
          120'000))
    abort();
  // What the deletes cost to replicate, without any GC traffic meanwhile.
  const uint64_t delete_bytes =
      sim.traffic().bytes - traffic_before - (GcBytes(sim) - gc_before);

  if (!sim.RunUntil([&] { return Empty(sim); }, 3'600'000, 1000)) {
    std::printf("| %5d | not collected within an hour |\n", nodes);
    return;
  }
  uint64_t collected = 0;
  for (const auto& id : sim.node_ids())
    collected += sim.replica(id).stats().gc_tombstones_collected;
  const double gc_bytes = static_cast<double>(GcBytes(sim) - gc_before);
  std::printf(
      "| %5d | %10d | %11.0f s | %10.1f B | %12.1f B | %17.2fx | %6llu -> "
      "%-2llu |\n",
      nodes, keys, (sim.now() - deleted_at) / 1000.0,
      gc_bytes / static_cast<double>(keys),
      gc_bytes / static_cast<double>(collected),
      gc_bytes / static_cast<double>(delete_bytes),
      static_cast<unsigned long long>(records_before),
      static_cast<unsigned long long>(sim.store(Id(0)).key_count()));
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  const int keys = argc > 1 ? std::atoi(argv[1]) : 10'000;
  std::printf(
      "| nodes | tombstones | all collected | GC bytes per | per collection "
      "| GC / bytes of the | records per |\n"
      "|       |            |         after |    tombstone | (per replica)  "
      "| deletes replicated |     replica |\n");
  for (int nodes : {3, 5, 10, 25}) gossipkv::Run(nodes, keys);
  return 0;
}
