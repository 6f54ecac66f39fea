// PartitionScope: which keys this node replicates, and which of them it
// shares with each peer, under partitioned storage
// (replication.partitioned_storage): a node replicates the partitions the
// ring (cluster/ring.h) gives it, and two peers compare, push and repair
// only the partitions both own. Without partitioned storage, or while
// every member owns every partition (at most N members), every node
// replicates every key and the scope is everything.
//
// Rumor, anti-entropy and the partition handoff read it; the Replica owns
// it. One thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/membership.h"
#include "cluster/ring.h"

namespace gossipkv {

class PartitionScope {
 public:
  // `ring` yields the replica's current ring (rebuilt as members come and
  // go); `segment_bits` is the Merkle tree's, at least the ring's
  // partition bits.
  PartitionScope(bool partitioned, const Membership& membership,
                 std::function<const Ring&()> ring, int segment_bits);

  bool partitioned() const { return partitioned_; }
  // True when some member replicates only part of the key space.
  bool Partial() const;
  const Ring& ring() const { return ring_(); }

  bool OwnsKey(std::string_view key) const;
  bool OwnsSegment(uint32_t segment) const;
  uint32_t PartitionOfSegment(uint32_t segment) const {
    return segment >> (segment_bits_ - ring().options().partition_bits);
  }
  // Per Merkle segment, whether this node and the member at `address` both
  // own it; null when not Partial (they share every segment). A peer the
  // ring does not hold shares nothing. Valid until the ring changes.
  const std::vector<bool>* SharedWith(const std::string& address);
  // Addresses of the live owners of `key` other than this node.
  std::vector<std::string> LiveOtherOwners(std::string_view key) const;

 private:
  bool partitioned_;
  const Membership& membership_;
  std::function<const Ring&()> ring_;
  int segment_bits_;
  uint64_t cached_fingerprint_ = 0;
  std::map<std::string, std::vector<bool>> shared_;  // by peer id
};

}  // namespace gossipkv
