// ReplicaDriver: the one place that orders what a replica does against what
// it vouches for, shared by both of its drivers — the server's Asio loop
// (server/node.h) and the deterministic simulator (sim/simulation.h) — so
// the simulator tests the order production runs (etcd raft's Ready/Advance).
//
// Stepping or ticking the replica yields two kinds of effect:
//   - changes to the store, gathered in its one batch() — client writes,
//     merges from peers, tombstones collected or adopted — which must be
//     made durable, and
//   - what may leave the node only once those changes are durable at the
//     configured durability: data messages (rumor, anti-entropy, GC query,
//     ack and notice) and client replies.
// Every data message and every reply callback is tagged with the commit
// that holds the changes made before it: the batch being gathered if it has
// changes, else the one staged last. It is held until that commit is
// durable; then messages are sent, in the order they were produced, and
// replies completed with the commit's status. If the commit fails, the held
// messages are dropped (they may describe state that was not stored), the
// replies get the error, and the changes gathered since (computed from the
// failed state) are discarded with them. Membership gossip vouches for
// nothing on disk and leaves at once, so heartbeats keep flowing while a
// disk is slow or failing.
//
// A commit is started, then persisted: StartCommit() stages the batch (the
// store's memory moves to it, see WriteSet::Stage) and the environment
// writes store.staged() to the engine — the server on its writer thread,
// while the loop gathers the next batch — then reports the outcome with
// Persisted(). One commit is in flight at a time. The environment decides
// when to commit (the server at the end of a loop turn, the simulator after
// a simulated disk latency) by watching commit_needed(); a crash between
// any two steps loses only what was not yet written, and nothing that left
// vouched for it.
//
// Single-threaded: owned by the node's event-loop thread or the simulator.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "replication/replica.h"
#include "store/versioned_store.h"

namespace gossipkv {

struct DriverStats {
  uint64_t commits = 0;           // batches stored
  uint64_t commit_failures = 0;   // batches the engine refused
  uint64_t messages_held = 0;     // data messages that waited for a commit
  uint64_t messages_dropped = 0;  // held messages dropped by a failed commit
};

class ReplicaDriver {
 public:
  // Sends one message to the peer at `to`; the driver calls it only with
  // messages whose state is durable.
  using Send = std::function<void(Outgoing& message)>;
  // Completes a client reply with the status of the commit it waited for.
  using Completion = std::function<void(const Status&)>;

  // `replica` and `store` (the replica's store; may be null for a
  // membership-only node) must outlive the driver.
  ReplicaDriver(Replica& replica, VersionedStore* store, Send send);

  void Tick(int64_t now_ms);
  void Step(int64_t now_ms, const std::string& reply_to,
            const pb::PeerMessage& message);
  void StartAntiEntropy(int64_t now_ms, const std::string& address);
  // The operator's departure for good: tells peers this node leaves.
  void Leave(int64_t now_ms);
  // The operator removes a member that is down or left (Replica::Forget);
  // what it stores joins the batch, so commit_needed() says when.
  Status Forget(const std::string& node_id);

  // True when the batch holds changes, or messages or replies wait for
  // it: the environment should start a commit soon.
  bool commit_needed() const;
  // True between StartCommit() and Persisted().
  bool commit_in_flight() const { return in_flight_; }
  // Runs `done` once every change made so far is durable: at once when
  // nothing is pending or in flight, else after the commit that holds them.
  void WhenDurable(Completion done);
  // A client write of `keys`: once durable here (WhenDurable), with
  // `quorum` above 1, the replica sends the keys to their other owners
  // (Replica::Replicate) and `done` waits until `quorum` owners hold each
  // (or their deadline). With `quorum` 1, this node's durability is the
  // acknowledgement.
  // `done` gets the keys still under their quorum with an Unavailable
  // status (Coordinator::Completion).
  void WhenReplicated(std::vector<std::string> keys, uint32_t quorum,
                      Coordinator::Completion done);
  // The environment's clock, read when something happens without a
  // caller's time (a commit completing starts a quorum write's deadline);
  // without it, the time of the last Tick or Step.
  void set_clock(std::function<int64_t()> clock) { clock_ = std::move(clock); }
  // A client read of `keys` at `quorum` above 1 (Replica::Read): `done`
  // gets the reads once `quorum` owners answered for each (or at the
  // deadline) and what this node answered from is durable, with the
  // status of that commit.
  using ReadCompletion =
      std::function<void(const Status&, std::vector<KeyRead>)>;
  void Read(int64_t now_ms, std::vector<std::string> keys, uint32_t quorum,
            ReadCompletion done);

  // Stages the batch for writing; true when the environment must now write
  // the store's staged() batch and call Persisted(), false when there was
  // nothing to write or the engine refuses writes (the commit is then
  // over: what waited for it was sent and completed, or dropped and
  // failed). First sends and completes what an earlier commit made ready.
  // Not while a commit is in flight.
  bool StartCommit();
  // The engine's outcome for the staged batch: what waited for this commit
  // becomes ready to send and acknowledge (or, on failure, is dropped or
  // failed).
  void Persisted(const Status& written);
  // The status of the last commit that ended (written, failed, or ended
  // by StartCommit without a write).
  const Status& last_status() const { return ready_status_; }
  // Sends the rumors of what the last persisted commit stored, then the
  // messages that waited for it.
  void SendReady();
  // Completes the replies that waited for the last persisted commit.
  void AckReady();
  // StartCommit(), the engine write on this thread, and Persisted(): the
  // simulator calls it, then SendReady() and AckReady() itself, so it can
  // crash a node between any two. The commit's status.
  Status Persist();
  // Persist(), SendReady(), AckReady(): a whole commit on this thread.
  Status Commit();

  // After the engine refused a write (a full or failing disk; both drivers
  // call it, the server every disk_retry_ms): asks the engine to take writes
  // again (Engine::TryResume) and, once it does, rebuilds the store's memory
  // from the disk (VersionedStore::ReloadFromDisk), since a batch reported
  // failed may have been stored after all. Changes made meanwhile were
  // computed from that stale memory, so they are committed, and fail, while
  // the engine still refuses, with what waited for them. Ok once the engine
  // takes writes and the store is reloaded; Writable() tells which failed.
  // While the engine takes writes, it retries a reload that failed
  // (VersionedStore::reload_needed), failing what was computed from the
  // partial memory; StartCommit does the same.
  Status ResumeWrites();

  // Sends the messages a replica call appended to `out` directly (tests
  // that step a replica by hand use the same rule).
  void Route(Outbox& out);

  // Bytes of messages to `address` held for a commit or ready to send:
  // a repair stream counts them against its link's room.
  uint64_t HeldBytes(const std::string& address) const;

  const DriverStats& stats() const { return stats_; }
  Replica& replica() { return replica_; }

  // True for messages that describe nothing stored (membership gossip).
  static bool VouchesForNothing(const pb::PeerMessage& message);

 private:
  bool batch_pending() const;
  // The commit that holds every change made so far.
  uint64_t needed_seq() const;
  // Ends the commit StartCommit just began, with nothing written: what
  // waited for it gets `status`. False, for StartCommit to return.
  bool EndWithoutWrite(const Status& status);

  struct HeldMessage {
    uint64_t seq;
    uint64_t bytes;  // as framed, counted in held_bytes_ while held
    Outgoing message;
  };
  // Takes `o` to hold (counting its bytes); Uncount uncounts one.
  HeldMessage Hold(uint64_t seq, Outgoing& o);
  void Uncount(const HeldMessage& h);
  struct Waiter {
    uint64_t seq;
    Completion done;
  };

  Replica& replica_;
  VersionedStore* store_;
  Send send_;
  int64_t now_ms_ = 0;        // the latest time Tick or Step was given
  uint64_t staged_seq_ = 0;   // the last commit started
  uint64_t durable_seq_ = 0;  // the last commit persisted (or failed)
  std::function<int64_t()> clock_;
  bool in_flight_ = false;
  std::vector<HeldMessage> held_;
  std::unordered_map<std::string, uint64_t> held_bytes_;  // held_ and ready_
  std::vector<Waiter> waiting_;
  // Persisted, not yet sent or acknowledged.
  std::vector<HeldMessage> ready_;
  std::vector<Completion> ready_waiting_;
  Status ready_status_;
  DriverStats stats_;
};

}  // namespace gossipkv
