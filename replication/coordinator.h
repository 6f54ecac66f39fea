// Coordinator: quorum writes. A client's write is acknowledged once
// `write_quorum` of its key's owners (cluster/ring.h) hold it durably, not
// only this node. The driver calls Replicate() once the write is durable
// here; the coordinator sends the key's current entry to every other owner
// in a ReplicaWrite, and each owner merges it and answers ReplicaAck —
// an answer the owner's driver holds until the merge is on its disk, like
// every message that vouches for stored state. This node counts for a key
// it owns. Once every key of the request has its quorum the completion gets
// Ok; at the deadline it gets an error naming how many owners answered
// (the write is stored here and may still reach the others: rumor and
// anti-entropy carry it on).
//
// An owner that is down (suspect or dead, within hint_window_ms) is stood
// in for by the next live node of the key's preference list, which holds
// the entry as a hint and hands it off once the owner is back
// (replication/hinted_handoff.h); its ack counts toward the quorum. With
// hinted handoff off, or nobody to stand in, the owner is asked anyway,
// and the request fails at its deadline if too few answered. A
// ReplicaWrite still unanswered halfway to the deadline is sent once more
// (a lost message, or a lost answer: merging twice changes nothing). Acks
// count only from the owner a ReplicaWrite went to (the sender's id is the
// one its connection proved). Request ids start at a hash of the
// incarnation and the start time, so an ack meant for an earlier run
// matches nothing.
//
// Sans I/O, one thread: owned by the Replica.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/membership.h"
#include "cluster/outbox.h"
#include "cluster/ring.h"
#include "replication/hinted_handoff.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"
#include "util/status.h"

namespace gossipkv {

struct CoordinatorOptions {
  int64_t request_timeout_ms = 2000;
  uint32_t max_message_bytes = 1 << 20;  // entries per ReplicaWrite
  // Quorum reads (replication/quorum_read.h): whether they repair the
  // owners that differ, and how many completed reads may wait to.
  bool read_repair = true;
  uint32_t max_pending_repairs = 1024;
  // Hinted handoff (replication/hinted_handoff.h): whether a write stands
  // in a live node for an owner that is down, for owners down at most
  // this long; the bytes of hints held per owner, and how fast they
  // replay once it is back.
  bool hinted_handoff = true;
  int64_t hint_window_ms = 3 * 3600 * 1000;
  uint64_t max_hint_bytes_per_owner = 256u << 20;
  uint64_t hint_replay_bytes_per_second = 4u << 20;
};

class Coordinator {
 public:
  // The request's status and, when it is Unavailable, the keys still
  // under their quorum at the deadline (the others reached it).
  using Completion =
      std::function<void(const Status&, std::vector<std::string> short_keys)>;

  Coordinator(VersionedStore& store, Membership& membership, int64_t now_ms,
              CoordinatorOptions options, ReplicationStats& stats);

  // `keys` were written here and are durable here: sends each key's
  // current entry to its owners in `ring` other than this node. `done`
  // gets Ok once `quorum` owners hold every key (at once when that needs
  // nobody else), else at the deadline an error naming how many did. A key
  // this node no longer stores (collected) needs nobody. A `handoff`
  // (replication/partition_handoff.h) asks the owners themselves, never a
  // stand-in, and is not counted as a client's quorum write.
  void Replicate(int64_t now_ms, const Ring& ring,
                 const std::vector<std::string>& keys, uint32_t quorum,
                 Completion done, Outbox& out, bool handoff = false);
  // An owner's side: merges a ReplicaWrite into the store's batch and
  // answers (held by the driver until the merge is durable).
  // A ReplicaWrite naming hint_for comes to a stand-in for that owner,
  // which also holds the entries as hints (replication/hinted_handoff.h).
  void HandleWrite(const Ring& ring, const std::string& reply_to,
                   const pb::PeerMessage& message, Outbox& out);
  void HandleAck(const pb::PeerMessage& message);
  // Sends again what is unanswered halfway, fails what is past its
  // deadline.
  void Tick(int64_t now_ms, Outbox& out);

  // A commit failed: what the hints count is read again from the disk.
  void OnCommitFailed() { hints_.Reload(); }

  size_t pending() const { return requests_.size(); }
  const HintedHandoff& hints() const { return hints_; }

 private:
  struct Request {
    std::vector<std::string> keys;
    std::vector<uint32_t> acks;  // per key: owners that hold it
    uint32_t quorum = 0;
    bool handoff = false;
    size_t short_keys = 0;  // keys still under the quorum
    int64_t deadline_ms = 0;
    Completion done;
    std::vector<uint64_t> chunks;  // its ReplicaWrites still unanswered
    int64_t resend_ms = 0;         // when they are sent again
  };
  struct Chunk {  // one ReplicaWrite: to whom, for which keys
    uint64_t request = 0;
    std::string owner;
    std::vector<uint32_t> keys;  // indexes into Request::acks
    Outgoing sent;               // kept for the one resend
  };
  void Finish(uint64_t request, const Status& status,
              std::vector<std::string> short_keys = {});
  // The live node that holds a hint for `owner`, down, of `partition`:
  // the first of the preference list past the owners not already `taken`
  // for this key (then added to it); empty when `owner` is alive, down
  // past the hint window, or nobody can.
  // `preferences` keeps the preference lists built, by partition.
  std::string StandIn(
      int64_t now_ms, const Ring& ring, uint32_t partition,
      const std::string& owner, std::vector<std::string>& taken,
      std::unordered_map<uint32_t, std::vector<std::string>>& preferences);

  VersionedStore& store_;
  Membership& membership_;
  CoordinatorOptions options_;
  ReplicationStats& stats_;
  uint64_t next_id_;
  // By id: ids grow with time and the timeout is one, so the first is
  // always the next to expire.
  std::map<uint64_t, Request> requests_;
  std::unordered_map<uint64_t, Chunk> chunks_;  // by ReplicaWrite request
  uint64_t resend_next_ = 0;  // requests below this id were resent
  HintedHandoff hints_;
};

}  // namespace gossipkv
