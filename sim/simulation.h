// Simulation: many replicas in one process on a virtual clock and a
// simulated network, deterministic from a seed (the approach of
// FoundationDB's simulator and TigerBeetle's VOPR). Each node runs the same
// Replica behind the same ReplicaDriver the server runs, so the simulator
// tests the order production keeps: nothing leaves a node before what it
// vouches for is stored.
//
// The world is at least as harsh as production's, as far as each test asks:
//   - network: uniform latency (so messages reorder) with a slow tail of
//     up to seconds, loss, duplication, partitions, production's frame cap
//     (an oversized message is dropped, as a receiver closes the
//     connection) and per-link queue bound (a full queue drops the newest);
//   - clocks: each node's wall and monotonic clocks are skewed and drift;
//   - disks: a commit is stored some milliseconds after its batch opened,
//     and a node may crash at a commit before it persists, after it
//     persists but before anything waiting leaves, or after the messages
//     leave but before the clients hear; it restarts by itself later;
//   - failing disks: a commit's engine write may fail (sim/faulty_engine.h),
//     refused or stored yet reported failed; the node then refuses writes,
//     serves reads and gossip, and later reopens its engine the way the
//     server does (ReplicaDriver::ResumeWrites: reload the store from disk);
//   - engines: an in-memory engine, or the real RocksDB on an in-memory
//     file system (rocksdb::NewMemEnv), reopened on every restart.
// A test that fails prints its seed; GOSSIPKV_SEED=<seed> replays it.
//
// Single-threaded; not for use from several threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "driver/replica_driver.h"
#include "sim/faulty_engine.h"
#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace gossipkv {

struct NetworkOptions {
  int64_t min_latency_ms = 1;
  int64_t max_latency_ms = 10;
  double loss = 0;       // probability a message is dropped
  double duplicate = 0;  // probability a message is delivered twice
  double slow = 0;       // probability a message takes the slow path
  int64_t max_slow_latency_ms = 3000;
  uint64_t max_frame_bytes = 0;  // 0: unbounded
  uint64_t max_queue_bytes = 0;  // per directed link in flight; 0: unbounded
};

// Faults of clocks and disks (all off by default).
struct FaultOptions {
  int64_t max_clock_skew_ms = 0;  // each node's clock is off by up to this
  double max_clock_drift = 0;     // and runs fast or slow by this fraction
  // A batch is staged up to this long after it opened, and its write takes
  // up to this long again (uniform), while the node goes on stepping and
  // gathering the next batch, as the server's loop does beside its writer
  // thread; 0: both at once.
  int64_t max_disk_latency_ms = 0;
  double crash_at_commit = 0;  // probability a commit is where a node crashes
  int64_t max_restart_ms = 10'000;  // a crashed node restarts within this
  // Probability a commit's engine write fails (refused, or stored but
  // reported failed: even odds); the node then refuses writes until it
  // reopens its engine, 100 ms to 100 ms + max_disk_outage_ms later.
  double disk_failure_per_commit = 0;
  int64_t max_disk_outage_ms = 5'000;
};

enum class SimEngine { kMemory, kRocksDB };

// Where in a commit a node crashes: while its staged batch is being
// written (the write is lost; memory had moved and the node had gone on
// working), after the write, or after sending what waited for it.
enum class CrashPoint { kBeforePersist, kAfterPersist, kAfterSend };

struct TrafficStats {
  uint64_t messages = 0;
  uint64_t bytes = 0;  // serialized size, as the wire would carry it
  uint64_t dropped = 0;
  uint64_t oversized = 0;      // of dropped: over the frame cap
  uint64_t queue_full = 0;     // of dropped: over the link's queue bound
  uint64_t largest = 0;        // bytes of the largest message sent
  uint64_t crashes = 0;        // crashes injected at commits
  uint64_t disk_failures = 0;  // engine writes failed by the faults
  uint64_t disk_failures_applied = 0;  // of them: stored, reported failed
  uint64_t disk_reopens = 0;           // engines that took writes again
};

// A client write's fate: `durable` when its batch is stored (also when the
// engine stored it but reported the write failed), `acked` when its reply
// would leave with success, `failed` when it would leave with an error. A
// crash may come between, or before all.
struct WriteCallbacks {
  std::function<void()> durable;
  std::function<void()> acked;
  std::function<void()> failed;
  std::function<void(const Status&)> answered;  // with the reply's status
};

class Simulation {
 public:
  Simulation(uint64_t seed, NetworkOptions network, int64_t tick_ms = 100);
  ~Simulation();

  void set_faults(const FaultOptions& faults) { faults_ = faults; }
  // Sees every message a node sends, before the network acts on it.
  using SendObserver = std::function<void(
      const std::string& from, const std::string& to, const pb::PeerMessage&)>;
  void set_send_observer(SendObserver observer) {
    send_observer_ = std::move(observer);
  }
  void set_engine(SimEngine engine) { engine_kind_ = engine; }

  // Adds and starts a node; its peer address is its id. With a store, the
  // node keeps data in an engine that survives its crashes (a disk) and
  // replicates it.
  void AddNode(const std::string& id, const ReplicaOptions& options,
               bool with_store = false, StoreOptions store_options = {});

  // A client write at `id` (value nullopt: delete), stored and rumored at
  // once, whatever the disk latency. Fails if the node is down, or if its
  // commit fails.
  Result<Entry> Write(const std::string& id, const std::string& key,
                      std::optional<std::string> value,
                      const VersionVector* context = nullptr);
  // A client write that joins the node's batch and is stored with it, as
  // the disk and the crash faults allow; the entry as it will be stored.
  // Refused at once while the node's engine refuses writes (as the server
  // answers -MISCONF). With `quorum` above 1 it is acknowledged (`acked`)
  // once that many of the key's owners hold it, or fails (`failed`) at the
  // coordinator's deadline (ReplicaDriver::WhenReplicated).
  Result<Entry> Submit(const std::string& id, const std::string& key,
                       std::optional<std::string> value,
                       const VersionVector* context, WriteCallbacks callbacks,
                       uint32_t quorum = 1);
  // A client read at `id` from the keys' owners (ReplicaDriver::Read);
  // `done` once `quorum` answered for each or at the deadline. Fails if the
  // node is down; a crash before the answer drops it.
  Status Read(const std::string& id, const std::vector<std::string>& keys,
              uint32_t quorum, ReplicaDriver::ReadCompletion done);
  Result<std::optional<Entry>> Get(const std::string& id,
                                   const std::string& key);
  // `from` opens an anti-entropy session with `to` now.
  void StartAntiEntropy(const std::string& from, const std::string& to);
  VersionedStore& store(const std::string& id);
  // The node's engine as its store sees it, with its injectable faults
  // (valid until the node boots again).
  FaultyEngine& engine(const std::string& id);
  // The node reopens its engine now, as it would after a disk outage.
  void ReopenDisk(const std::string& id);
  // Stops a node at once: what it had not stored is lost.
  void Crash(const std::string& id);
  // The node crashes at its next commit, at `point`.
  void CrashAtNextCommit(const std::string& id, CrashPoint point);
  // A graceful stop (SIGTERM): the node stores its batch, sends what waited
  // for it, and stops without announcing anything: a restart follows.
  void Shutdown(const std::string& id);
  // The operator's departure: the node announces it leaves, then stops.
  void Leave(const std::string& id);
  // The operator's CLUSTER FORGET of member `id`, run at node `at`.
  Status Forget(const std::string& at, const std::string& id);
  // Sets node `id`'s clock to read `skew_ms` off virtual time, without
  // drift, from now on; meant for a node that is down (a process's
  // monotonic clock never runs back), so it restarts with that clock.
  void SetClockSkew(const std::string& id, int64_t skew_ms);
  // Starts a node again (crashing it first if it is up) with the next
  // incarnation of the counter its disk keeps; its store reopens from its
  // disk, or from an empty one if `lose_data` (and the counter starts
  // again).
  void Restart(const std::string& id, bool lose_data = false);
  bool IsUp(const std::string& id) const;
  // Delivers `message` to `to` as if `from` sent it now (stale traffic).
  void Inject(const std::string& from, const std::string& to,
              const pb::PeerMessage& message, int64_t delay_ms = 1);

  // Nodes in different groups cannot exchange messages; nodes not named are
  // cut off from everyone. Heal() removes all partitions.
  void Partition(const std::vector<std::vector<std::string>>& groups);
  void Heal();
  void set_loss(double loss) { network_.loss = loss; }
  void set_network(const NetworkOptions& network) { network_ = network; }

  void RunFor(int64_t ms);
  // Runs until `done` holds (checked every `check_ms`) or `timeout_ms`
  // passes; true if it held.
  bool RunUntil(const std::function<bool()>& done, int64_t timeout_ms,
                int64_t check_ms = 100);

  // Virtual time (what an observer outside every node would read).
  int64_t now() const { return now_; }
  // The time as node `id`'s own clock reads it.
  int64_t LocalNow(const std::string& id) const;
  Replica& replica(const std::string& id);
  const ReplicaDriver& driver(const std::string& id) const;
  std::vector<std::string> node_ids() const;
  const TrafficStats& traffic() const { return traffic_; }
  uint64_t seed() const { return seed_; }

  // The seed tests should use: GOSSIPKV_SEED if set, else `fallback`.
  static uint64_t SeedFromEnv(uint64_t fallback);

 private:
  // A node's clock: virtual time, skewed and drifting.
  class NodeClock final : public Clock {
   public:
    NodeClock(const int64_t& now, int64_t skew_ms, double drift)
        : now_(now), origin_(now), skew_ms_(skew_ms), drift_(drift) {}
    int64_t Read() const {
      return now_ + skew_ms_ +
             static_cast<int64_t>(static_cast<double>(now_ - origin_) * drift_);
    }
    void Reset(int64_t skew_ms) {
      origin_ = now_;
      skew_ms_ = skew_ms;
      drift_ = 0;
    }
    int64_t WallMillis() override { return Read(); }
    int64_t MonotonicMillis() override { return Read(); }

   private:
    const int64_t& now_;
    int64_t origin_, skew_ms_;
    double drift_;
  };
  struct Node;
  enum class EventKind {
    kTick,
    kMessage,
    kCommit,   // stage the node's batch
    kWritten,  // the staged batch's write completes
    kRestart,
    kReopen
  };
  struct Event {
    int64_t time;
    uint64_t seq;
    EventKind kind;
    int node;  // receiver (or ticking, committing, restarting, reopening node)
    int from;  // sender of a message
    uint64_t generation;  // the node's boot a commit event belongs to
    uint64_t size;        // a message's bytes on its link; kWritten: the write
    std::shared_ptr<const pb::PeerMessage> message;
    bool operator>(const Event& o) const {
      return time != o.time ? time > o.time : seq > o.seq;
    }
  };

  void Schedule(Event e);
  void Send(int from, Outgoing& o);
  void Process(const Event& e);
  void Boot(Node& node);
  void Down(Node& node);
  // After anything that may have changed a node's batch: schedule its
  // commit, or commit at once when disks have no latency.
  void AfterStep(int index);
  // A whole commit at once: StartWrite, then FinishWrite.
  void CommitAt(int index);
  // Stages the node's batch; true when a write is now in progress.
  bool StartWrite(int index);
  void ScheduleWritten(int index);
  // The staged batch reaches the engine (or fails); what waited for it is
  // sent and acknowledged, with the crash points between.
  void FinishWrite(int index);
  bool CrashHere(Node& node, CrashPoint point);
  int64_t DiskLatency();
  Node& At(const std::string& id);
  int IndexOf(const std::string& id) const { return index_.at(id); }

  uint64_t seed_;
  NetworkOptions network_;
  FaultOptions faults_;
  SimEngine engine_kind_ = SimEngine::kMemory;
  int64_t tick_ms_;
  Random random_;
  int64_t now_ = 1'700'000'000'000;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, int> index_;
  std::map<std::pair<int, int>, uint64_t> in_flight_;  // bytes per link
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  TrafficStats traffic_;
  SendObserver send_observer_;
};

}  // namespace gossipkv
