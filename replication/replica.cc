// Replica: routes ticks and messages to its parts.
#include "replication/replica.h"

namespace gossipkv {

Replica::Replica(pb::MemberState self, ReplicaOptions options, Random& random,
                 int64_t now_ms)
    : membership_(std::move(self), std::move(options.membership), random,
                  now_ms) {}

void Replica::Tick(int64_t now_ms, Outbox& out) {
  membership_.Tick(now_ms, out);
}

void Replica::Step(int64_t now_ms, const std::string& reply_to,
                   const pb::PeerMessage& message, Outbox& out) {
  membership_.Handle(now_ms, reply_to, message, out);
}

void Replica::Leave(int64_t now_ms, Outbox& out) {
  membership_.Leave(now_ms, out);
}

}  // namespace gossipkv
