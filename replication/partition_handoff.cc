// PartitionHandoff: a cursor over the segments, one batch in flight.
#include "replication/partition_handoff.h"

#include <algorithm>
#include <unordered_set>

namespace gossipkv {

PartitionHandoff::PartitionHandoff(VersionedStore& store, PartitionScope& scope,
                                   Coordinator& coordinator,
                                   PartitionHandoffOptions options,
                                   ReplicationStats& stats)
    : store_(store),
      scope_(scope),
      coordinator_(coordinator),
      options_(options),
      stats_(stats) {}

void PartitionHandoff::Tick(int64_t now_ms, Outbox& out) {
  if (!scope_.Partial()) return;
  const Ring& ring = scope_.ring();
  if (ring.fingerprint() != fingerprint_) {
    fingerprint_ = ring.fingerprint();
    stable_since_ms_ = now_ms;
  }
  if (in_flight_ || now_ms - stable_since_ms_ < options_.grace_ms) return;
  SendBatch(now_ms, out);
}

bool PartitionHandoff::SendBatch(int64_t now_ms, Outbox& out) {
  const MerkleTree& tree = store_.tree();
  const uint32_t segments = tree.shape().segment_count();
  const int depth = tree.depth();
  for (uint32_t looked = 0; looked < segments; ++looked) {
    const uint32_t segment = cursor_;
    // An empty segment's hash is 0 (a sum of entry hashes that is 0 by
    // chance only delays its keys to a later change).
    if (tree.Node(depth, segment) == 0 || scope_.OwnsSegment(segment) ||
        coordinator_.hints().HoldsPartition(
            scope_.PartitionOfSegment(segment))) {
      cursor_ = (cursor_ + 1) % segments;
      continue;
    }
    std::vector<std::string> keys;
    std::vector<uint64_t> hashes;
    uint64_t bytes = 0;
    bool more = false;  // the segment holds keys past this batch
    Status scanned =
        store_.ScanSegment(segment, [&](std::string_view key, uint64_t hash) {
          if (keys.size() >= options_.batch_keys ||
              (!keys.empty() && bytes >= options_.batch_bytes)) {
            more = true;
            return;
          }
          auto entry = store_.Get(key);
          if (entry && entry->has_value()) {
            for (const auto& s : (*entry)->siblings) bytes += s.value.size();
          }
          bytes += key.size() + 64;
          keys.emplace_back(key);
          hashes.push_back(hash);
        });
    // The rest of a segment comes in the next batch; past one whose keys
    // the owners did not all take, the next pass retries it.
    if (!more || !scanned.ok()) cursor_ = (cursor_ + 1) % segments;
    if (keys.empty()) continue;
    in_flight_ = true;
    stats_.handoff_keys_sent += keys.size();
    auto sent = keys;
    coordinator_.Replicate(
        now_ms, scope_.ring(), sent, scope_.ring().replicas(),
        [this, keys = std::move(keys), hashes = std::move(hashes), segment](
            const Status&, std::vector<std::string> short_keys) {
          if (!short_keys.empty()) {
            ++stats_.handoff_rounds_failed;
            if (cursor_ == segment)
              cursor_ = (cursor_ + 1) % store_.tree().shape().segment_count();
          }
          OnDone(keys, hashes, short_keys);
        },
        out, /*handoff=*/true);
    return true;
  }
  return false;
}

void PartitionHandoff::OnDone(const std::vector<std::string>& keys,
                              const std::vector<uint64_t>& hashes,
                              const std::vector<std::string>& short_keys) {
  in_flight_ = false;
  const std::unordered_set<std::string> short_set(short_keys.begin(),
                                                  short_keys.end());
  WriteSet& set = store_.batch();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (short_set.contains(keys[i])) continue;
    // Not if it changed since it was sent, or if the partition is this
    // node's again.
    if (scope_.OwnsKey(keys[i])) continue;
    auto dropped = set.Drop(keys[i], hashes[i]);
    if (dropped && *dropped) ++stats_.handoff_keys_dropped;
  }
}

}  // namespace gossipkv
