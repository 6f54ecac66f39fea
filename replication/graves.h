// Graves: the entries of keys whose tombstones were collected, kept so that
// a stale copy arriving later is recognised as old instead of being stored
// again (see VersionedStore and replication/tombstone_gc.h).
//
// At most `capacity` graves are kept, the oldest dropped first. They live in
// memory and in the meta column family ("grave:" ++ key -> be64 sequence ++
// canonical entry), so a restart keeps them. Changes are staged into the
// WriteBatch of a commit and applied in memory only once it is written.
// Owned by one VersionedStore; one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "replication/entry.h"
#include "storage/engine.h"

namespace gossipkv {

class Graves {
 public:
  explicit Graves(size_t capacity) : capacity_(capacity) {}

  // Loads the persisted graves (records that do not decode are deleted, and
  // so are the oldest beyond capacity). Returns how many were unreadable.
  Result<uint64_t> Load(Engine& engine);

  const Entry* Find(std::string_view key) const;
  size_t size() const { return graves_.size(); }
  size_t capacity() const { return capacity_; }

  // Staging, for one batch at a time: the deletes of graves evicted by the
  // last commit, a new or replaced grave, a grave to remove.
  void StageEvictions(WriteBatch& batch);
  void StagePut(WriteBatch& batch, const std::string& key, const Entry& entry);
  void StageRemove(WriteBatch& batch, const std::string& key);
  // The batch was written: apply what was staged. Or it was not: forget it.
  void Commit();
  void Abort();

 private:
  struct Grave {
    Entry entry;
    uint64_t seq;
  };
  void Insert(std::string key, Entry entry, uint64_t seq);
  void Evict();

  size_t capacity_;
  std::unordered_map<std::string, Grave> graves_;
  std::deque<std::pair<std::string, uint64_t>> order_;  // oldest first
  uint64_t seq_ = 0;
  std::vector<std::string> evicted_;  // deleted from memory, not yet on disk
  struct Staged {
    std::string key;
    std::optional<Entry> entry;  // nullopt: remove
    uint64_t seq = 0;
  };
  std::vector<Staged> staged_;
  std::vector<std::string> staged_evictions_;
};

}  // namespace gossipkv
