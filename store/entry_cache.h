// EntryCache: the decoded entries of recently used keys, so that GETs and
// the read that precedes every write skip the storage engine and the
// decoder. Least recently used keys are evicted past a byte budget. Keys
// known to be absent are cached too (a SET of a new key reads first).
//
// VersionedStore owns it and is the only writer of the entries it mirrors:
// it fills the cache from reads and updates it only after a commit
// succeeds, so a cached entry always equals the stored one. One thread.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/hash.h"
#include "versioning/entry.h"

namespace gossipkv {

class EntryCache {
 public:
  struct Cached {
    std::optional<Entry> entry;  // nullopt: the key is not stored
    uint64_t hash = 0;           // EntryHash of the stored bytes
  };

  explicit EntryCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The cached state of `key`, now the most recently used; null on a miss.
  const Cached* Find(std::string_view key);
  void Put(std::string_view key, Cached value);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t size() const { return map_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Node {
    std::string key;
    Cached value;
    size_t bytes;
  };
  using List = std::list<Node>;

  static size_t Footprint(std::string_view key, const Cached& value);
  void EvictToCapacity();

  size_t capacity_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  List lru_;  // front: most recently used
  StringMap<List::iterator> map_;
};

}  // namespace gossipkv
