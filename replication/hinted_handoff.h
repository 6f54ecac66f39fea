// HintedHandoff: the writes this node holds for owners that are down.
//
// When an owner of a key is down (suspect or dead, for at most
// hint_window_ms), the coordinator (replication/coordinator.h) sends the
// key's entry to the next live node of the key's preference list instead,
// naming the owner in ReplicaWrite.hint_for: a sloppy quorum, as in
// Dynamo. That stand-in merges the entry into its store, as every member
// does, and also into a hint: a record of the hints column (Column::kHints)
// keyed by owner id (be32 length ++ bytes), partition (be32) and key,
// holding the join of every entry hinted for that key, so repeated writes
// collapse into one record. Its ReplicaAck, held like every answer until
// the hint is durable, counts toward the write's quorum.
//
// Once the owner is alive again, Tick replays its hints in ReplicaWrite
// batches of at most max_message_bytes, one batch in flight per owner, at
// most hint_replay_bytes_per_second. What is sent is this node's current
// entry for the key, not the hint: the stand-in merged every hinted entry
// into its store with the hint, so that entry covers the hint unless
// tombstone GC collected the key since — and then nothing is sent, so a
// replay never brings back what was deleted. The owner's ok ack deletes
// each hint still as it was sent (one that grew meanwhile waits for the
// next batch); an ack that comes after the batch timed out and the next
// was sent still counts.
//
// Bounds: max_hint_bytes_per_owner per owner; past it a hint is refused
// (its ReplicaWrite answered not ok, so it does not count toward the
// quorum) and counted in hints_dropped; anti-entropy repairs that owner
// when it is back. Hints for an owner that left, was forgotten or is no
// longer a known member are
// deleted (a few thousand a tick) and counted dropped too. Hints replay
// whether or not this node hands off new writes (hinted_handoff off).
//
// Sans I/O, one thread: owned by the Coordinator, which routes to it the
// hint_for writes and the acks of its batches.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cluster/membership.h"
#include "cluster/outbox.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"
#include "util/status.h"
#include "versioning/entry.h"

namespace gossipkv {

struct CoordinatorOptions;

class HintedHandoff {
 public:
  HintedHandoff(VersionedStore& store, Membership& membership,
                const CoordinatorOptions& options, ReplicationStats& stats,
                int64_t now_ms);

  // Joins `entry` into the hint for `owner`'s copy of `key` (of
  // `partition`) in the store's batch. False when it would pass the
  // owner's budget (dropped) or cannot be read.
  bool Accept(const std::string& owner, uint32_t partition,
              const std::string& key, const Entry& entry);
  // Replays to owners that are alive, drops the hints of owners gone, and
  // sends again a batch unanswered for request_timeout_ms. `next_id` is
  // the coordinator's request counter, shared so ids never collide.
  void Tick(int64_t now_ms, uint64_t& next_id, Outbox& out);
  // True when `message` (a ReplicaAck) answered one of the batches.
  bool HandleAck(const pb::PeerMessage& message);
  // A commit failed: the counts are read again from what is stored.
  void Reload();

  // Hints held, and their bytes, over every owner.
  uint64_t hint_count() const;
  uint64_t hint_bytes() const;
  // Whether any hint held here is of a key in `partition`.
  bool HoldsPartition(uint32_t partition) const;
  // Owners with hints held here, in id order.
  std::vector<std::string> owners() const;

  // The hints-column key of `owner`'s copy of `key` in `partition`, and
  // the prefix of every key of `owner`.
  static std::string HintKey(const std::string& owner, uint32_t partition,
                             const std::string& key);
  static std::string OwnerPrefix(const std::string& owner);

 private:
  struct Batch {
    uint64_t request = 0;                                   // 0: none
    std::vector<std::pair<std::string, std::string>> sent;  // hint, value
  };
  struct Owner {
    // Every hint of this owner, pending, being written or stored, by key:
    // its record's bytes. What the counts come from.
    std::map<std::string, uint64_t> sizes;
    uint64_t bytes = 0;
    Batch in_flight;
    Batch previous;        // timed out, but its ack may still come
    int64_t retry_ms = 0;  // no batch before this
  };
  // Sends `owner` its next batch; false when nothing was left to send.
  bool Replay(const std::string& id, Owner& owner, uint64_t request,
              Outbox& out);
  // Deletes at most kDropPerTick of the hints held for `id` (it left or
  // was forgotten); true once none is left.
  bool DropSome(Owner& owner);
  // `owner`'s hint `hint` is deleted (or was never there).
  static void Erase(Owner& owner, const std::string& hint);
  // The hints of `batch` still as they were sent are delivered.
  void Delivered(Owner& owner, const Batch& batch);

  // Hints deleted for an owner gone, or read for one batch, per tick.
  static constexpr size_t kDropPerTick = 4096;

  VersionedStore& store_;
  Membership& membership_;
  const CoordinatorOptions& options_;
  ReplicationStats& stats_;
  std::map<std::string, Owner> owners_;
  double tokens_;  // replay bytes that may be sent now
  int64_t refilled_ms_;
};

}  // namespace gossipkv
