// Simulation: many replicas in one process on a virtual clock and a
// simulated network, deterministic from a seed (the approach of
// FoundationDB's simulator and TigerBeetle's VOPR). It drives the same
// Replica code the server runs.
//
// The network delays each message by a uniform latency (so messages
// reorder), loses and duplicates them with given probabilities, and drops
// everything between nodes in different partition groups. Nodes can crash
// (they stop receiving and ticking) and restart (a new incarnation). A test
// that fails prints its seed; GOSSIPKV_SEED=<seed> replays it.
//
// Single-threaded; not for use from several threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "replication/replica.h"
#include "storage/memory_engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace gossipkv {

struct NetworkOptions {
  int64_t min_latency_ms = 1;
  int64_t max_latency_ms = 10;
  double loss = 0;       // probability a message is dropped
  double duplicate = 0;  // probability a message is delivered twice
};

struct TrafficStats {
  uint64_t messages = 0;
  uint64_t bytes = 0;  // serialized size, as the wire would carry it
  uint64_t dropped = 0;
  uint64_t largest = 0;  // bytes of the largest message sent
};

class Simulation {
 public:
  Simulation(uint64_t seed, NetworkOptions network, int64_t tick_ms = 100);

  // Adds and starts a node; its peer address is its id. With a store, the
  // node keeps data in an in-memory engine that survives its crashes (a
  // disk) and replicates it.
  void AddNode(const std::string& id, const ReplicaOptions& options,
               bool with_store = false, StoreOptions store_options = {});

  // A client write at `id` (value nullopt: delete), committed and rumored
  // at once. Fails if the node is down.
  Result<Entry> Write(const std::string& id, const std::string& key,
                      std::optional<std::string> value,
                      const VersionVector* context = nullptr);
  Result<std::optional<Entry>> Get(const std::string& id,
                                   const std::string& key);
  // `from` opens an anti-entropy session with `to` now.
  void StartAntiEntropy(const std::string& from, const std::string& to);
  VersionedStore& store(const std::string& id);
  void Crash(const std::string& id);
  // A graceful departure: the node announces it leaves, then stops.
  void Leave(const std::string& id);
  // Starts a crashed node again with a new incarnation; its store reopens
  // from its engine, or from an empty one if `lose_data`.
  void Restart(const std::string& id, bool lose_data = false);
  bool IsUp(const std::string& id) const;

  // Nodes in different groups cannot exchange messages; nodes not named are
  // cut off from everyone. Heal() removes all partitions.
  void Partition(const std::vector<std::vector<std::string>>& groups);
  void Heal();
  void set_loss(double loss) { network_.loss = loss; }

  void RunFor(int64_t ms);
  // Runs until `done` holds (checked every `check_ms`) or `timeout_ms`
  // passes; true if it held.
  bool RunUntil(const std::function<bool()>& done, int64_t timeout_ms,
                int64_t check_ms = 100);

  int64_t now() const { return now_; }
  Replica& replica(const std::string& id);
  std::vector<std::string> node_ids() const;
  const TrafficStats& traffic() const { return traffic_; }
  uint64_t seed() const { return seed_; }

  // The seed tests should use: GOSSIPKV_SEED if set, else `fallback`.
  static uint64_t SeedFromEnv(uint64_t fallback);

 private:
  // Reads the simulation's virtual time.
  class VirtualClock final : public Clock {
   public:
    explicit VirtualClock(const int64_t& now) : now_(now) {}
    int64_t WallMillis() override { return now_; }
    int64_t MonotonicMillis() override { return now_; }

   private:
    const int64_t& now_;
  };
  struct Node {
    std::string id;
    ReplicaOptions options;
    std::unique_ptr<Random> random;
    bool with_store = false;
    StoreOptions store_options;
    std::unique_ptr<MemoryEngine> engine;
    std::unique_ptr<VersionedStore> store;
    std::unique_ptr<Replica> replica;  // destroyed before the store
    bool up = true;
    int group = 0;
  };
  struct Event {
    int64_t time;
    uint64_t seq;
    int node;          // receiver (or ticking node)
    std::string from;  // sender's address; empty for a tick
    std::shared_ptr<const pb::PeerMessage> message;
    bool operator>(const Event& o) const {
      return time != o.time ? time > o.time : seq > o.seq;
    }
  };

  void Schedule(int64_t time, int node, std::string from,
                std::shared_ptr<const pb::PeerMessage> message);
  void Dispatch(int from, Outbox& out);
  void Process(const Event& e);
  void Boot(Node& node);

  uint64_t seed_;
  NetworkOptions network_;
  int64_t tick_ms_;
  Random random_;
  int64_t now_ = 1'700'000'000'000;
  VirtualClock clock_{now_};
  uint64_t seq_ = 0;
  std::vector<Node> nodes_;
  std::map<std::string, int> index_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  TrafficStats traffic_;
};

}  // namespace gossipkv
