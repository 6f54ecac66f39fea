// What one anti-entropy session costs, in the simulator: two replicas of n
// keys (100-byte values) that differ in d keys, one side newer. Reports the
// encoded entry bytes shipped against the encoded size of the d differing
// entries, the digest and descent bytes (everything else the session sent),
// messages and tree levels compared. A depth-15 Merkle tree like Cassandra's
// would ship whole leaf ranges: about 31x at n = 1M.
//
//   build/release/bench/anti_entropy_efficiency [n]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/simulation.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%08d", i);
  return buf;
}

struct Costs {
  uint64_t entry_bytes = 0, total_bytes = 0, messages = 0, rounds = 0,
           pushed = 0;
};

Costs Sum(Simulation& sim) {
  Costs c;
  for (const auto& id : {"a", "b"}) {
    const auto& s = sim.replica(id).stats();
    c.entry_bytes += s.ae_entry_bytes_sent;
    c.total_bytes += s.ae_bytes_sent;
    c.messages += s.ae_messages_sent;
    c.rounds += s.ae_rounds;
    c.pushed += s.ae_keys_pushed;
  }
  return c;
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  const int n = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  std::printf(
      "anti-entropy session between two replicas of %d keys (S=16, F=16)\n", n);
  std::printf("%8s %14s %14s %7s %12s %16s %9s %7s %8s\n", "d", "entry_bytes",
              "d_encoded", "ratio", "other_bytes", "other_per_key", "messages",
              "levels", "pushed");
  for (int d : {0, 1, 100, 10000}) {
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 1000;
    o.membership.seeds = {"a"};
    o.anti_entropy.interval_ms = 0;  // only the session started below
    o.anti_entropy.bytes_per_second = 1ull << 40;
    StoreOptions store;
    store.entry_cache_bytes = 0;
    Simulation sim(1, NetworkOptions{1, 1, 0, 0});
    sim.AddNode("a", o, true, store);
    sim.AddNode("b", o, true, store);
    sim.RunFor(5000);  // membership, and the (empty) first sessions
    // Identical data on both, written as repair so nothing is rumored.
    const Actor writer{"loader", 1};
    for (int i = 0; i < n; ++i) {
      Entry e;
      ApplyWrite(e, writer, e.clock, std::string(100, 'a' + i % 26),
                 1'700'000'000'000 + i, ConflictMode::kSiblings);
      for (const auto& id : {"a", "b"}) {
        if (!sim.store(id).batch().Merge(Key(i), e, kRepair)) return 1;
      }
      if (i % 20000 == 19999 || i == n - 1) {
        for (const auto& id : {"a", "b"}) {
          if (!sim.store(id).batch().Commit().ok()) return 1;
        }
      }
    }
    // d keys newer on a.
    uint64_t d_encoded = 0;
    const Actor updater{"updater", 2};
    for (int j = 0; j < d; ++j) {
      const std::string key =
          Key(static_cast<int>((static_cast<int64_t>(j) * 7919) % n));
      Entry e = **sim.store("a").Get(key);
      ApplyWrite(e, updater, e.clock, std::string(100, 'z'),
                 1'800'000'000'000 + j, ConflictMode::kSiblings);
      d_encoded += EncodeEntry(e).size();
      if (!sim.store("a").batch().Merge(key, e, kRepair)) return 1;
    }
    if (!sim.store("a").batch().Commit().ok()) return 1;
    const Costs before = Sum(sim);
    sim.StartAntiEntropy("b", "a");
    sim.RunFor(60'000);
    const Costs after = Sum(sim);
    const bool agree =
        sim.store("a").tree().Root() == sim.store("b").tree().Root();
    const uint64_t entry = after.entry_bytes - before.entry_bytes;
    const uint64_t other = (after.total_bytes - before.total_bytes) - entry;
    std::printf(
        "%8d %14llu %14llu %7.3f %12llu %16.1f %9llu %7llu %8llu%s\n", d,
        static_cast<unsigned long long>(entry),
        static_cast<unsigned long long>(d_encoded),
        d_encoded ? static_cast<double>(entry) / d_encoded : 0.0,
        static_cast<unsigned long long>(other),
        d ? static_cast<double>(other) / d : 0.0,
        static_cast<unsigned long long>(after.messages - before.messages),
        static_cast<unsigned long long>(after.rounds - before.rounds),
        static_cast<unsigned long long>(after.pushed - before.pushed),
        agree ? "" : "  (replicas still differ!)");
  }
  return 0;
}
