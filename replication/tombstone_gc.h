// TombstoneCollector: removes deleted keys once the deletion is causally
// stable — every current member holds a clock for the key that covers the
// tombstone's. Wall-clock age plays no part, so a member that
// is down, partitioned or slow only delays collection; it can never bring a
// deleted value back (Cassandra's gc_grace_seconds failure).
//
// Every interval_ms the collector takes a batch of the store's tombstone-
// only entries and asks every member that has not left, in one GcQuery
// each, which of them it covers. A member answers from its entry or, for a
// key it has already collected, from that key's grave. The round runs only
// while every member is alive, and collects when all of them answered and
// none named a member the asker did not ask (a node still learning the
// membership must not collect on the word of a part of the cluster):
// each tombstone that every member covers, and that has not changed here
// since, leaves the store (WriteSet::Collect, which keeps the grave and the
// GC floor). The asker then names what it collected to the members it
// asked (GcCollected, key and entry hash); a member holding exactly that
// entry collects it too, on the same evidence, so a tombstone usually costs
// one round in the whole cluster rather than one per replica. A round
// short of an answer for round_timeout_ms is dropped. The members asked are
// those gossip reports and those the store remembers (GcState): after a
// restart, before gossip has named them again, a round waits for them
// rather than finding nobody to ask. A member leaves that set when it
// leaves (CLUSTER LEAVE) or is forgotten (CLUSTER FORGET): until then, a
// member that is down blocks every round, however long it is away.
// The next round continues after the last key offered, so tombstones that
// cannot be collected yet do not starve the rest; after a full batch it
// comes a tenth of the interval later, so a backlog drains ten times as
// fast as a trickle is collected.
//
// Safety rests on one fact: a member's clock for a key only grows (its own
// collection aside, which needs the same evidence). So once all members
// covered the tombstone, none holds, or can ever again receive from a
// member, a value the deletion replaced. Sans I/O; one thread.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"

namespace gossipkv {

struct TombstoneGcOptions {
  int64_t interval_ms = 30'000;  // 0 disables collection
  uint32_t batch_keys = 1000;    // tombstones offered per round
  uint32_t max_message_bytes = 1 << 20;
  int64_t round_timeout_ms = 10'000;
};

class TombstoneCollector {
 public:
  TombstoneCollector(VersionedStore& store, const Membership& membership,
                     Random& random, TombstoneGcOptions options,
                     ReplicationStats& stats, int64_t now_ms);

  void Tick(int64_t now_ms, Outbox& out);
  void Handle(const std::string& reply_to, const pb::PeerMessage& message,
              Outbox& out);
  // The members a round would wait for now: down, or not named by gossip
  // yet (INFO replication's gc_blocked_by).
  std::vector<std::string> BlockedBy() const;

 private:
  struct Candidate {
    std::string key;
    Entry entry;
    uint32_t confirmations = 0;
  };
  struct Round {
    uint64_t id;
    int64_t started_ms;
    std::vector<Candidate> candidates;
    std::set<std::string> asked;     // member ids
    std::set<std::string> awaiting;  // asked, not yet answered
    bool unknown_member = false;     // an answer named one not asked
  };

  // The members gossip reports and those the store remembers, less those
  // that left or were forgotten.
  std::set<std::string> Members() const;
  // True when no seed names another node: knowing no member, this node is
  // a cluster of one.
  bool AloneByDesign() const;
  // Returns how many tombstones it offered.
  size_t StartRound(int64_t now_ms, Outbox& out);
  // Up to batch_keys all-tombstone entries, continuing after cursor_.
  std::vector<Candidate> PickCandidates();
  void OnAck(const std::string& from, const pb::GcAck& ack, Outbox& out);
  void Finish(Outbox& out);
  void OnCollected(const pb::GcCollected& collected);
  void Send(const std::string& to, const pb::PeerMessage& message, Outbox& out);
  void Answer(const std::string& reply_to, const pb::GcQuery& query,
              Outbox& out);

  VersionedStore& store_;
  const Membership& membership_;
  Random& random_;
  TombstoneGcOptions options_;
  ReplicationStats& stats_;
  std::optional<Round> round_;
  std::string cursor_;  // the last key offered
  int64_t next_round_ms_;
};

}  // namespace gossipkv
