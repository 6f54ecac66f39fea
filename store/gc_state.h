// GcState: what tombstone GC keeps in the meta column family besides the
// graves (store/graves.h), loaded at open and changed only in the
// batch of a commit:
//   - the GC floor ("gc_floor", be64): the highest counter of this node in
//     the clock of any grave it wrote;
//   - the timestamp floor ("gc_timestamp_floor", be64): the latest winner
//     timestamp of any grave it wrote (used under last-write-wins);
//   - the members ("gc_members", be32 length ++ id, repeated): every peer
//     this node has known as a member and not seen leave. Membership is
//     learned again by gossip after a restart; until it is, these are the
//     replicas a round must hear from, so a node that has just restarted
//     never mistakes itself for a cluster of one.
// Value type; one thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "storage/engine.h"

namespace gossipkv {

struct GcState {
  uint64_t dot_floor = 0;
  int64_t timestamp_floor = 0;
  std::set<std::string> members;

  bool operator==(const GcState&) const = default;

  // Reads the records; a malformed one is an error naming it.
  static Result<GcState> Load(Engine& engine);
  // Adds to `batch` the records of `next` that differ from this state.
  void StageChanges(const GcState& next, WriteBatch& batch) const;
};

}  // namespace gossipkv
