// Graves: the entries of keys whose tombstones were collected, kept so that
// a stale copy arriving later is recognised as old instead of being stored
// again (see VersionedStore and replication/tombstone_gc.h).
//
// At most `capacity` graves are kept, the oldest dropped first — but never
// one younger than `min_age_ms`: a stale copy of what a grave deleted may
// still be on its way (a delayed message, a GC round still open), and only
// the grave recognises it. So the count is exceeded while more than
// `capacity` keys were collected within `min_age_ms` (capacity 0 keeps none
// at all). Age is measured on the node's monotonic clock from the commit
// that wrote the grave; graves loaded at open count as written then. They
// live in memory and in the meta column family ("grave:" ++ key -> be64
// sequence ++ canonical entry), so a restart keeps them. Changes are staged
// into the WriteBatch of a commit and applied in memory only once it is
// written.
// Owned by one VersionedStore; one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/engine.h"
#include "util/hash.h"
#include "versioning/entry.h"

namespace gossipkv {

class Graves {
 public:
  Graves(size_t capacity, int64_t min_age_ms)
      : capacity_(capacity), min_age_ms_(min_age_ms) {}

  // Loads the persisted graves (records that do not decode are deleted, and
  // so are the oldest beyond capacity if min_age_ms or capacity is 0).
  // Returns how many were unreadable.
  Result<uint64_t> Load(Engine& engine, int64_t now_ms);

  const Entry* Find(std::string_view key) const;
  size_t size() const { return graves_.size(); }
  size_t capacity() const { return capacity_; }

  // Staging, for one batch at a time: the deletes of graves evicted by the
  // last commit, a new or replaced grave, a grave to remove.
  void StageEvictions(WriteBatch& batch);
  void StagePut(WriteBatch& batch, const std::string& key, const Entry& entry);
  void StageRemove(WriteBatch& batch, const std::string& key);
  // The batch was written at `now_ms`: apply what was staged. Or it was
  // not: forget it.
  void Commit(int64_t now_ms);
  void Abort();

 private:
  struct Grave {
    Entry entry;
    uint64_t seq;
  };
  struct Written {
    std::string key;
    uint64_t seq;
    int64_t at_ms;
  };
  void Insert(std::string key, Entry entry, uint64_t seq, int64_t now_ms);
  void Evict(int64_t now_ms);

  size_t capacity_;
  int64_t min_age_ms_;
  StringMap<Grave> graves_;
  std::deque<Written> order_;  // oldest first
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
