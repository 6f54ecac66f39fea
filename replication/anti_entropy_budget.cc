// AntiEntropy's pacing: messages wait in one queue and leave within the
// repair budget (a token bucket of bytes_per_second) and only while their
// peer's link has room, in order per peer; streams add their next chunk
// only when the queue runs short.
#include <algorithm>
#include <map>
#include <set>

#include "replication/anti_entropy.h"

namespace gossipkv {

void AntiEntropy::Queue(const std::string& peer, pb::PeerMessage message) {
  queue_.push_back({peer, std::move(message)});
  stats_.ae_queue_peak =
      std::max<uint64_t>(stats_.ae_queue_peak, queue_.size());
}

void AntiEntropy::DropQueued() {
  stats_.ae_messages_dropped += queue_.size();
  queue_.clear();
  // Chunks merged into the failed commit are gone again.
  fill_ranges_.clear();
  fill_parts_.clear();
}

void AntiEntropy::Release(int64_t now_ms, Outbox& out) {
  const double rate = static_cast<double>(options_.bytes_per_second);
  tokens_ = std::min(
      rate,
      tokens_ + rate * static_cast<double>(now_ms - last_refill_ms_) / 1000.0);
  last_refill_ms_ = now_ms;
  // A message bigger than what is left still goes when the bucket is full,
  // driving it negative: the budget holds on average. A message whose link
  // has no room for it waits, and so do the later ones to that peer (their
  // order matters); messages to other peers go past it.
  std::map<std::string, uint64_t> released;  // bytes per peer, this call
  std::set<std::string> waiting;
  size_t i = 0;
  while (tokens_ > 0) {
    if (i == queue_.size()) {
      if (!AdvanceStream()) break;
      continue;
    }
    Outgoing& next = queue_[i];
    const uint64_t size = next.message.ByteSizeLong() + 4;
    if (options_.max_frame_bytes > 0 && size > options_.max_frame_bytes) {
      ++stats_.ae_messages_dropped;
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (waiting.count(next.to) != 0) {
      ++i;
      continue;
    }
    if (options_.link_free_bytes) {
      const uint64_t free = options_.link_free_bytes(next.to);
      uint64_t& used = released[next.to];
      if (free < used + size) {
        waiting.insert(next.to);
        ++i;
        continue;
      }
      used += size;
    }
    tokens_ -= static_cast<double>(size);
    ++stats_.ae_messages_sent;
    stats_.ae_bytes_sent += size;
    out.push_back(std::move(next));
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace gossipkv
