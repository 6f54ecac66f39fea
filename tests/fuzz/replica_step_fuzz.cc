// libFuzzer target for the replication logic behind the peer protocol: the
// input is a stream of peer frames; each message decoded from it is handed
// to a replica with a store, as if from a peer, and whatever it merged is
// committed, with a tick now and then (so rounds and sessions time out).
// Checks that no peer message crashes the replica, and that the store's
// incremental Merkle tree and key count still equal those rebuilt by
// reopening it. Built like resp_parser_fuzz.cc.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "replication/replica.h"
#include "server/peer_frame.h"
#include "storage/memory_engine.h"
#include "util/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gossipkv;
  // Malformed UTF-8 in string fields is expected here, and logged by
  // protobuf at every parse: keep the fuzzer's output readable.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  MemoryEngine engine;
  ManualClock clock;
  Random random(1);
  StoreOptions options;
  options.merkle = MerkleShape{4, 2};
  options.max_graves = 4;
  auto store = VersionedStore::Open(engine, "n1", options, clock, random);
  if (!store) abort();
  // A tombstone and a value of its own, so queries and sessions find some.
  if (!(*store)->Write("a", "1") || !(*store)->Write("b", std::nullopt))
    abort();
  {
    pb::MemberState self;
    self.set_node_id("n1");
    self.set_peer_address("n1");
    self.set_incarnation(1);
    ReplicaOptions replica_options;
    replica_options.gc.interval_ms = 50;
    replica_options.anti_entropy.interval_ms = 50;
    Replica replica(self, replica_options, random, 0, store->get());
    FrameReader reader(1 << 20);
    reader.Feed(std::string_view(reinterpret_cast<const char*>(data), size));
    pb::PeerMessage message;
    std::string error;
    int64_t now = 0;
    Outbox out;
    while (reader.Next(message, error) == FrameReader::Outcome::kMessage) {
      replica.Step(now, "n2", message, out);
      now += 40;
      replica.Tick(now, out);
      if (!(*store)->batch().Commit().ok()) abort();
      replica.FlushRumors(out);
      out.clear();
    }
  }
  const uint64_t root = (*store)->tree().Root();
  const uint64_t keys = (*store)->key_count();
  store->reset();
  auto reopened = VersionedStore::Open(engine, "n1", options, clock, random);
  if (!reopened || (*reopened)->tree().Root() != root ||
      (*reopened)->key_count() != keys)
    abort();
  return 0;
}
