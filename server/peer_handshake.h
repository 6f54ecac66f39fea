// Peer handshake: what a node says about itself when it opens a peer
// connection, and the check each side applies to the other's handshake.
//
// The handshake names the sender (node id, peer address) and the settings
// it must share with the cluster to converge (pb::Compatibility). Nothing
// proves the node id beyond reaching the peer port: the cluster trusts its
// network, as it trusts the cluster name. What the transport does enforce is
// that a connection speaks for one node only: every later message's `from`
// must be the id its handshake named.
//
// Pure functions over protobufs (no sockets); called by PeerTransport on
// both ends of a connection, and by tests. Any thread.
#pragma once

#include <string>

#include "config/config.h"
#include "proto/peer.pb.h"

namespace gossipkv {

// The settings of `config` a peer must share.
pb::Compatibility CompatibilityOf(const Config& config);

struct HandshakeVerdict {
  enum class Kind {
    kAccept,
    kMalformed,     // not a handshake, another cluster or protocol version
    kIncompatible,  // a peer of this cluster whose settings differ
  };
  Kind kind = Kind::kAccept;
  // Empty on kAccept; else e.g. "conflict_mode last-write-wins here,
  // siblings there".
  std::string reason;
};

// Checks `there`, the first message a peer sent, against this node's own
// handshake `here`. A handshake without settings (an older node) is
// checked for cluster, version and identity only.
HandshakeVerdict CheckHandshake(const pb::Handshake& here,
                                const pb::PeerMessage& there);

}  // namespace gossipkv
