// PartitionScope: ownership questions answered from the current ring.
#include "replication/partition_scope.h"

namespace gossipkv {

PartitionScope::PartitionScope(bool partitioned, const Membership& membership,
                               std::function<const Ring&()> ring,
                               int segment_bits)
    : partitioned_(partitioned),
      membership_(membership),
      ring_(std::move(ring)),
      segment_bits_(segment_bits) {}

bool PartitionScope::Partial() const {
  if (!partitioned_) return false;
  const Ring& ring = ring_();
  return ring.replicas() < ring.members().size();
}

bool PartitionScope::OwnsKey(std::string_view key) const {
  if (!Partial()) return true;
  const Ring& ring = ring_();
  return ring.Owns(ring.IndexOf(membership_.self().node_id()),
                   ring.PartitionOfKey(key));
}

bool PartitionScope::OwnsSegment(uint32_t segment) const {
  if (!Partial()) return true;
  const Ring& ring = ring_();
  return ring.Owns(ring.IndexOf(membership_.self().node_id()),
                   PartitionOfSegment(segment));
}

const std::vector<bool>* PartitionScope::SharedWith(
    const std::string& address) {
  if (!Partial()) return nullptr;
  const Ring& ring = ring_();
  if (ring.fingerprint() != cached_fingerprint_) {
    shared_.clear();
    cached_fingerprint_ = ring.fingerprint();
  }
  const std::string peer = membership_.IdAt(address);
  auto [it, fresh] = shared_.try_emplace(peer);
  if (fresh) {
    const int self_index = ring.IndexOf(membership_.self().node_id());
    const int peer_index = peer.empty() ? -1 : ring.IndexOf(peer);
    std::vector<bool>& keep = it->second;
    keep.assign(size_t{1} << segment_bits_, false);
    if (self_index >= 0 && peer_index >= 0) {
      for (uint32_t s = 0; s < keep.size(); ++s) {
        const uint32_t partition = PartitionOfSegment(s);
        keep[s] = ring.Owns(self_index, partition) &&
                  ring.Owns(peer_index, partition);
      }
    }
  }
  return &it->second;
}

std::vector<std::string> PartitionScope::LiveOtherOwners(
    std::string_view key) const {
  std::vector<std::string> addresses;
  const Ring& ring = ring_();
  const std::string& self = membership_.self().node_id();
  for (uint16_t owner : ring.Owners(ring.PartitionOfKey(key))) {
    const std::string& id = ring.members()[owner];
    if (id == self || membership_.LivenessOf(id) != Liveness::kAlive) continue;
    std::string address = membership_.AddressOf(id);
    if (!address.empty()) addresses.push_back(std::move(address));
  }
  return addresses;
}

}  // namespace gossipkv
