// RumorMonger: pushes fresh writes to a few peers at once.
//
// Every change this node commits — a client write, or an entry learned from
// a rumor that was new here — is queued with a hop count; Flush() sends the
// queue, many entries per message (bounded by max_message_bytes), to
// `fanout` random live peers. A receiver merges each entry; entries that
// changed its store are forwarded with hops + 1 while hops stay under about
// log2 N, and entries it already had stop there (feedback). Duplicates are
// harmless: merge is idempotent. Anti-entropy repairs whatever a rumor
// misses. Under partitioned storage (replication/partition_scope.h) an
// entry goes to the live owners of its key only, all of them at once, and
// is not forwarded. Sans I/O; one thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "replication/partition_scope.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"

namespace gossipkv {

struct RumorOptions {
  uint32_t fanout = 3;
  uint32_t max_message_bytes = 1 << 20;
};

class RumorMonger {
 public:
  RumorMonger(VersionedStore& store, const Membership& membership,
              Random& random, RumorOptions options, ReplicationStats& stats,
              PartitionScope* scope = nullptr);

  // Queues a committed change to go out with `hops` already travelled.
  // `encoded_entry` is the canonical encoding the store just committed.
  void Enqueue(std::string_view key, std::string_view encoded_entry,
               uint32_t hops);
  // Sends everything queued.
  void Flush(Outbox& out);

  // Merges a rumor into the store's batch (the driver commits it). Entries
  // it changes are re-queued by the commit observer with hops + 1.
  void Handle(const pb::PeerMessage& message);

 private:
  uint32_t HopLimit() const;
  // Partitioned: each queued entry to its key's live owners, once.
  void FlushToOwners(Outbox& out);
  void Send(const std::string& to, pb::PeerMessage& m, Outbox& out);

  VersionedStore& store_;
  const Membership& membership_;
  Random& random_;
  RumorOptions options_;
  ReplicationStats& stats_;
  PartitionScope* scope_;
  std::map<uint32_t, std::vector<pb::KeyEntry>> queued_;  // by hops
};

}  // namespace gossipkv
