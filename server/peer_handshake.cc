// The handshake check: cluster, protocol version, identity, then settings.
#include "server/peer_handshake.h"

#include <fmt/format.h>

#include <algorithm>

#include "server/peer_frame.h"

namespace gossipkv {
namespace {

std::string Shape(const pb::Compatibility& c) {
  return fmt::format("{} segment bits, fanout {}", c.merkle_segment_bits(),
                     1u << std::min<uint32_t>(c.merkle_fanout_bits(), 31));
}

HandshakeVerdict Refuse(HandshakeVerdict::Kind kind, std::string reason) {
  return HandshakeVerdict{kind, std::move(reason)};
}

}  // namespace

pb::Compatibility CompatibilityOf(const Config& config) {
  pb::Compatibility c;
  c.set_conflict_mode(config.conflict_mode == ConflictMode::kLastWriteWins
                          ? "last-write-wins"
                          : "siblings");
  c.set_merkle_segment_bits(static_cast<uint32_t>(config.merkle.segment_bits));
  c.set_merkle_fanout_bits(static_cast<uint32_t>(config.merkle.fanout_bits));
  c.set_tombstone_gc(config.replication.gc_interval_ms > 0);
  c.set_replication_factor(config.replication.replication_factor);
  c.set_partition_bits(config.replication.partition_bits);
  return c;
}

HandshakeVerdict CheckHandshake(const pb::Handshake& here,
                                const pb::PeerMessage& there) {
  using Kind = HandshakeVerdict::Kind;
  if (!there.has_handshake())
    return Refuse(Kind::kMalformed, "first frame is not a handshake");
  const pb::Handshake& h = there.handshake();
  if (h.cluster_name() != here.cluster_name()) {
    return Refuse(Kind::kMalformed,
                  fmt::format("peer is in cluster '{}', this node in '{}'",
                              h.cluster_name(), here.cluster_name()));
  }
  if (h.protocol_version() != here.protocol_version()) {
    return Refuse(Kind::kMalformed,
                  fmt::format("peer speaks protocol version {}, this node {}",
                              h.protocol_version(), here.protocol_version()));
  }
  if (h.peer_address().empty())
    return Refuse(Kind::kMalformed, "handshake names no peer address");
  if (h.node_id().empty())
    return Refuse(Kind::kMalformed, "handshake names no node id");
  if (there.from() != h.node_id()) {
    return Refuse(Kind::kMalformed,
                  fmt::format("handshake from '{}' names node '{}'",
                              there.from(), h.node_id()));
  }
  if (!h.has_settings() || !here.has_settings()) return {};
  const pb::Compatibility& mine = here.settings();
  const pb::Compatibility& theirs = h.settings();
  if (mine.conflict_mode() != theirs.conflict_mode()) {
    return Refuse(Kind::kIncompatible,
                  fmt::format("conflict_mode {} here, {} there",
                              mine.conflict_mode(), theirs.conflict_mode()));
  }
  if (mine.merkle_segment_bits() != theirs.merkle_segment_bits() ||
      mine.merkle_fanout_bits() != theirs.merkle_fanout_bits()) {
    return Refuse(Kind::kIncompatible,
                  fmt::format("merkle shape {} here, {} there", Shape(mine),
                              Shape(theirs)));
  }
  if (mine.tombstone_gc() != theirs.tombstone_gc()) {
    return Refuse(Kind::kIncompatible,
                  fmt::format("tombstone GC {} here, {} there",
                              mine.tombstone_gc() ? "on" : "off",
                              theirs.tombstone_gc() ? "on" : "off"));
  }
  // 0: a node from before the ring, which stores every key; not checked.
  if (theirs.replication_factor() != 0 &&
      (mine.replication_factor() != theirs.replication_factor() ||
       mine.partition_bits() != theirs.partition_bits())) {
    return Refuse(
        Kind::kIncompatible,
        fmt::format("ring of {} replicas over 2^{} partitions here, "
                    "{} replicas over 2^{} there",
                    mine.replication_factor(), mine.partition_bits(),
                    theirs.replication_factor(), theirs.partition_bits()));
  }
  return {};
}

}  // namespace gossipkv
