// EntryCache: std::list for recency, an unordered_map with heterogeneous
// lookup so a string_view key needs no allocation to probe.
#include "store/entry_cache.h"

namespace gossipkv {

size_t EntryCache::Footprint(std::string_view key, const Cached& value) {
  // Node and map overhead, the key twice (list node and map), the entry.
  size_t bytes = 96 + 2 * key.size();
  if (value.entry) {
    for (const auto& [actor, counter] : value.entry->clock.items())
      bytes += 48 + actor.node.size();
    for (const auto& s : value.entry->siblings)
      bytes += 80 + s.dot.actor.node.size() + s.value.size();
  }
  return bytes;
}

const EntryCache::Cached* EntryCache::Find(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->value;
}

void EntryCache::Put(std::string_view key, Cached value) {
  if (capacity_ == 0) return;
  const size_t bytes = Footprint(key, value);
  auto it = map_.find(key);
  if (it != map_.end()) {
    bytes_ -= it->second->bytes;
    it->second->value = std::move(value);
    it->second->bytes = bytes;
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    lru_.push_front(Node{std::string(key), std::move(value), bytes});
    map_.emplace(lru_.front().key, lru_.begin());
  }
  bytes_ += bytes;
  EvictToCapacity();
}

void EntryCache::EvictToCapacity() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    Node& victim = lru_.back();
    bytes_ -= victim.bytes;
    map_.erase(victim.key);
    lru_.pop_back();
  }
}

void EntryCache::Clear() {
  map_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace gossipkv
