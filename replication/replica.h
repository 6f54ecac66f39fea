// Replica: one node's replication logic as a state machine with no I/O
// (in the manner of etcd's raft and toydb). It is driven only through a
// ReplicaDriver (driver/replica_driver.h), which both the server's Asio
// loop and the deterministic simulator use: Tick(now) often (every ~100
// ms), Step() for each peer message that arrives, FlushRumors() right
// after a commit, and whatever the replica appended to the Outbox is sent
// only once the store's batch it may describe is durable. Clock readings
// and randomness come from the driver, so a simulation replays exactly
// from its seed.
//
// A replica runs gossip membership and failure detection; given a store it
// also replicates data: every committed change is pushed by rumor
// mongering, and anti-entropy sessions repair what rumors missed — at once
// with any peer that becomes reachable (join, restart, healed partition).
// Tombstones leave the store once every member holds them (tombstone_gc.h).
//
// With a store, the replica keeps its MemberRecord current in the store's
// batch: the incarnation after a refutation, and the forgotten members. The
// incarnation a driver starts it with comes from NextIncarnation(), never
// from a clock. Messages from a forgotten member are dropped, whatever
// they carry. One thread.
#pragma once

#include <memory>
#include <string>

#include "cluster/membership.h"
#include "cluster/ring.h"
#include "replication/anti_entropy.h"
#include "replication/coordinator.h"
#include "replication/partition_handoff.h"
#include "replication/partition_scope.h"
#include "replication/quorum_read.h"
#include "replication/replication_stats.h"
#include "replication/rumor.h"
#include "replication/tombstone_gc.h"

namespace gossipkv {

struct ReplicaOptions {
  MembershipOptions membership;
  RumorOptions rumor;
  AntiEntropyOptions anti_entropy;
  TombstoneGcOptions gc;
  RingOptions ring;
  CoordinatorOptions coordinator;
  // Each node stores only the partitions it owns (partition_scope.h); a
  // key it holds otherwise goes to the owners (partition_handoff.h).
  bool partitioned_storage = false;
  PartitionHandoffOptions handoff;
};

class Replica {
 public:
  // `store` may be null (membership only); otherwise it must outlive the
  // replica, which observes its commits.
  Replica(pb::MemberState self, ReplicaOptions options, Random& random,
          int64_t now_ms, VersionedStore* store = nullptr);
  ~Replica();

  void Tick(int64_t now_ms, Outbox& out);
  // A message from the peer whose address is `reply_to`.
  void Step(int64_t now_ms, const std::string& reply_to,
            const pb::PeerMessage& message, Outbox& out);
  // Sends the rumors of changes committed since the last call. Peer
  // messages only add to the store's batch(): the driver commits it (the
  // server with its client writes, the simulator at once), then calls this.
  void FlushRumors(Outbox& out);
  // A commit failed and the store took back its memory: drops what was
  // built from it and waits inside the replica (queued repair answers).
  void OnCommitFailed();
  // Opens an anti-entropy session with the peer at `address` now.
  void StartAntiEntropy(int64_t now_ms, const std::string& address,
                        Outbox& out);
  // A quorum write (Coordinator::Replicate): `keys`, durable here, are
  // sent to their other owners; `done` once `quorum` owners hold each.
  void Replicate(int64_t now_ms, const std::vector<std::string>& keys,
                 uint32_t quorum, Coordinator::Completion done, Outbox& out);
  // A quorum read (QuorumReader::Read): `keys` from their owners; `done`
  // once `quorum` answered for each, or at the deadline.
  void Read(int64_t now_ms, const std::vector<std::string>& keys,
            uint32_t quorum, QuorumReader::Completion done, Outbox& out);
  // Graceful shutdown: tells peers this node leaves.
  void Leave(int64_t now_ms, Outbox& out);
  // CLUSTER FORGET: removes member `node_id` for good (Membership::Forget);
  // a member only tombstone GC remembers (gone before gossip named it
  // again) may be forgotten too. The forgotten set joins the batch; gossip
  // spreads it.
  Status Forget(const std::string& node_id);
  // Members tombstone GC waits for now (down, or not named by gossip), in
  // id order; empty when nothing blocks a round.
  std::vector<std::string> GcBlockedBy() const;

  // The incarnation for a node starting on `store`: one past the stored
  // one, stored before it returns (the store's batch must be empty). A
  // store that cannot be written still yields it; a later start may then
  // repeat it, which the refutation rule (Membership) outvotes.
  static uint64_t NextIncarnation(VersionedStore& store, Status* stored);

  // The ring (cluster/ring.h) of this node and every member that has not
  // left or been forgotten, whatever its liveness; built again when that
  // set changes. It names the owners a quorum write waits for and, under
  // partitioned storage, the keys each member stores.
  const Ring& ring();
  // Whether this node stores `key` as one of its owners: always, without
  // partitioned storage or while every member owns everything. A client
  // command on a key it does not own reads the owners and waits for one
  // of them to hold its write, whatever the level.
  bool OwnsKey(std::string_view key);
  bool partitioned() const { return scope_ && scope_->Partial(); }

  Membership& membership() { return membership_; }
  const Membership& membership() const { return membership_; }
  const ReplicationStats& stats() const { return stats_; }
  // The hints this node holds for owners that are down, or null without a
  // store.
  const HintedHandoff* hints() const {
    return coordinator_ ? &coordinator_->hints() : nullptr;
  }
  VersionedStore* store() { return store_; }

 private:
  Membership membership_;
  VersionedStore* store_;
  ReplicationStats stats_;
  std::unique_ptr<RumorMonger> rumor_;
  std::unique_ptr<AntiEntropy> anti_entropy_;
  // Stages the MemberRecord when membership moved past what is stored.
  void SaveMemberRecord();

  std::unique_ptr<TombstoneCollector> collector_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<QuorumReader> reader_;
  std::unique_ptr<PartitionScope> scope_;
  std::unique_ptr<PartitionHandoff> handoff_;
  RingOptions ring_options_;
  Ring ring_;
  bool ring_built_ = false;
  uint64_t ring_generation_ = 0;  // Membership::generation() it was built at
};

}  // namespace gossipkv
