// PartitionHandoff: under partitioned storage, what this node holds of
// partitions it does not own goes to their owners, then leaves its store.
//
// A node holds such keys when it coordinated a client's write of a key it
// does not own, stood in for a down owner (hinted handoff), or owned the
// partition before a member joined, left or was forgotten. Once the ring
// has not changed for grace_ms, the handoff walks the store's segments;
// for one that holds keys of a partition this node does not own, and none
// it holds hints in (those replay first), it sends up to batch_keys of
// them to every owner in a ReplicaWrite (Coordinator::Replicate as a
// handoff: the owners themselves, no stand-in) and drops each key all N
// owners acknowledged, if it has not changed since (WriteSet::Drop, which
// keeps the dot floor). A key an owner did not acknowledge stays, and is
// tried again on the next pass over the store. One batch in flight.
//
// Nothing is dropped that an owner does not hold durably: an owner's ack
// waits for its disk. Sans I/O; one thread; owned by the Replica.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replication/coordinator.h"
#include "replication/partition_scope.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"

namespace gossipkv {

struct PartitionHandoffOptions {
  int64_t grace_ms = 60'000;  // the ring unchanged this long first
  uint32_t batch_keys = 1024;
  uint64_t batch_bytes = 4u << 20;  // of entries per batch, at least one
};

class PartitionHandoff {
 public:
  PartitionHandoff(VersionedStore& store, PartitionScope& scope,
                   Coordinator& coordinator, PartitionHandoffOptions options,
                   ReplicationStats& stats);

  void Tick(int64_t now_ms, Outbox& out);
  bool in_flight() const { return in_flight_; }

 private:
  // Sends the next batch; false when no segment holds keys to hand off.
  bool SendBatch(int64_t now_ms, Outbox& out);
  void OnDone(const std::vector<std::string>& keys,
              const std::vector<uint64_t>& hashes,
              const std::vector<std::string>& short_keys);

  VersionedStore& store_;
  PartitionScope& scope_;
  Coordinator& coordinator_;
  PartitionHandoffOptions options_;
  ReplicationStats& stats_;
  uint64_t fingerprint_ = 0;
  int64_t stable_since_ms_ = 0;
  uint32_t cursor_ = 0;  // the segment looked at next
  bool in_flight_ = false;
};

}  // namespace gossipkv
