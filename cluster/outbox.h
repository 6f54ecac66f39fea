// Outgoing and Outbox: the peer messages a replica's parts (membership,
// rumors, anti-entropy, tombstone GC) append while they are stepped or
// ticked, for their driver to send (driver/replica_driver.h). Value types;
// one thread.
#pragma once

#include <string>
#include <vector>

#include "proto/peer.pb.h"

namespace gossipkv {

// A message for the transport: `to` is a peer address.
struct Outgoing {
  std::string to;
  pb::PeerMessage message;
};
using Outbox = std::vector<Outgoing>;

}  // namespace gossipkv
