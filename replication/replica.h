// Replica: one node's replication logic as a state machine with no I/O
// (DESIGN §1, in the manner of etcd's raft and toydb). Its drivers — the
// server's Asio loop (server/node.h) and the deterministic simulator
// (sim/simulation.h) — call Tick(now) often (every ~100 ms) and Step() for
// each peer message that arrives, and send whatever the replica appended to
// the Outbox. Clock readings and randomness come from the driver, so a
// simulation replays exactly from its seed.
//
// Today a replica runs gossip membership and failure detection; rumor
// mongering and anti-entropy join it next. One thread.
#pragma once

#include <string>

#include "replication/membership.h"

namespace gossipkv {

struct ReplicaOptions {
  MembershipOptions membership;
};

class Replica {
 public:
  Replica(pb::MemberState self, ReplicaOptions options, Random& random,
          int64_t now_ms);

  void Tick(int64_t now_ms, Outbox& out);
  // A message from the peer whose address is `reply_to`.
  void Step(int64_t now_ms, const std::string& reply_to,
            const pb::PeerMessage& message, Outbox& out);
  // Graceful shutdown: tells peers this node leaves.
  void Leave(int64_t now_ms, Outbox& out);

  Membership& membership() { return membership_; }
  const Membership& membership() const { return membership_; }

 private:
  Membership membership_;
};

}  // namespace gossipkv
