// Ring: which members own each key. The key space is cut into Q = 2^bits
// partitions by the top bits of the key's hash — the same bits that pick
// its Merkle segment (store/merkle_tree.h), so a partition is one
// contiguous range of segments and of the store's keys. Each partition is
// owned by N = replication_factor distinct members (every member, when
// there are at most N).
//
// Ownership is a pure function of the set of member ids and the options:
// every node that knows the same members computes the same ring, whatever
// order gossip told it in, and liveness never enters it. It is rendezvous
// hashing with bounded loads: every (partition, member) pair has a score,
// Hash64(partition, Hash64(id)); pairs are taken best score first, each
// partition taking members until it has N and each member taking
// partitions until it holds its cap of replicas, 1.03 x N x Q / M
// rounded down (never below the mean rounded up) — so no member holds
// more than 1.03 times the mean, and a
// member joining or leaving moves little more than its own share, since a
// pair's score does not depend on who else is in the ring. A partition's
// owners are listed best score first; its preference list continues with
// every other member, best score first (where a write goes when owners
// are down).
//
// Value type; immutable once built, so any thread may read it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gossipkv {

struct RingOptions {
  uint32_t replication_factor = 3;  // N
  int partition_bits = 14;          // Q = 2^bits partitions
  // The most replicas any member may hold, over the mean; a huge factor
  // is plain rendezvous hashing (bench/ring_balance.cc compares them).
  double max_load_factor = 1.03;
};

class Ring {
 public:
  // An empty ring: no members, so no partition has owners.
  Ring() = default;
  // The ring of `members` (node ids in any order; duplicates count once).
  // partition_bits in [1, 24], replication_factor in [1, 255].
  Ring(std::vector<std::string> members, RingOptions options);

  const RingOptions& options() const { return options_; }
  // Member ids, sorted: a member's index is its place here.
  const std::vector<std::string>& members() const { return members_; }
  uint32_t partition_count() const { return 1u << options_.partition_bits; }
  // Replicas per partition: N, or the member count when smaller.
  uint32_t replicas() const { return replicas_; }

  uint32_t PartitionOfHash(uint64_t key_hash) const {
    return static_cast<uint32_t>(key_hash >> (64 - options_.partition_bits));
  }
  uint32_t PartitionOfKey(std::string_view key) const;

  // Indexes (into members()) of the owners of `partition`, best first.
  std::span<const uint16_t> Owners(uint32_t partition) const {
    return {owners_.data() + static_cast<size_t>(partition) * replicas_,
            replicas_};
  }
  // Ids of the owners of `partition`, best first.
  std::vector<std::string> OwnerIds(uint32_t partition) const;
  // Every member for `partition`: its owners, then the others by score.
  std::vector<std::string> PreferenceList(uint32_t partition) const;
  // The index of member `id`, or -1 if it is not in the ring.
  int IndexOf(std::string_view id) const;
  bool Owns(int member, uint32_t partition) const;
  // Partitions member `member` owns, in order.
  std::vector<uint32_t> PartitionsOf(int member) const;
  // Partitions each member owns, by index.
  const std::vector<uint32_t>& loads() const { return loads_; }
  // Identifies the members, the options and the algorithm's version, so
  // the whole table: equal fingerprints, equal rings.
  uint64_t fingerprint() const { return fingerprint_; }

  // Replica slots that change hands from `before` to `after`: for each
  // partition, the owners in `after` that were not owners in `before`.
  // Both rings must have the same partition count.
  static uint64_t Moved(const Ring& before, const Ring& after);

 private:
  uint64_t Score(uint32_t partition, size_t member) const;

  RingOptions options_;
  std::vector<std::string> members_;
  std::vector<uint64_t> member_hashes_;  // Hash64(id), by index
  uint32_t replicas_ = 0;
  std::vector<uint16_t> owners_;  // partition-major, replicas_ each
  std::vector<uint32_t> loads_;
  uint64_t fingerprint_ = 0;
};

// "0-3,7,9-12": sorted partition numbers as ranges (CLUSTER RING).
std::string PartitionRanges(const std::vector<uint32_t>& partitions);

}  // namespace gossipkv
