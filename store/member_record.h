// MemberRecord: what a node keeps in the meta column family about its own
// place in the cluster, loaded when its store opens and changed only in the
// batch of a commit (WriteSet::SetMemberRecord):
//   - the incarnation ("incarnation", be64): a counter bumped at every start
//     (Replica::NextIncarnation) and every refutation of a state of this
//     node newer than its own (Membership), never read from a clock, so a
//     node restarted with its clock far behind still supersedes what it
//     said before;
//   - the forgotten members ("forgotten", repeated be32 length ++ id ++
//     be64 incarnation): the ids an operator removed with CLUSTER FORGET, or
//     that gossip reported so, each with the highest incarnation known of it
//     then. A forgotten id is refused for good, so it never comes back from
//     a peer's stale gossip or from its own return;
//   - the members ("members", repeated be32 length ++ id ++ be32 length ++
//     peer address ++ be64 incarnation): every other member not left or
//     forgotten when last stored, so a restarted node's ring (cluster/ring.h)
//     has them before gossip names them again, and it can reach them without a
//     seed; a malformed one is left out (members_malformed), not an error;
//   - the fill cursor ("fill", be32): present while the node is being
//     filled by an anti-entropy stream, the first segment it has not yet
//     received whole. Stored with the entries it follows, so a fill
//     interrupted by a restart of either side resumes from there.
// Value type; one thread. Used by VersionedStore and Replica.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "storage/engine.h"

namespace gossipkv {

struct MemberRecord {
  uint64_t incarnation = 0;  // 0: never started with this store
  std::map<std::string, uint64_t> forgotten;
  // id -> (peer address, the highest incarnation known of it)
  std::map<std::string, std::pair<std::string, uint64_t>> members;
  // The stored members did not decode: Load left them out (they are only
  // what gossip would tell again) and the node logs it.
  bool members_malformed = false;
  std::optional<uint32_t> fill_next;  // none: not being filled

  bool operator==(const MemberRecord&) const = default;

  // Reads the records; a malformed one is an error naming it.
  static Result<MemberRecord> Load(Engine& engine);
  // Adds to `batch` the records of `next` that differ from this one.
  void StageChanges(const MemberRecord& next, WriteBatch& batch) const;
};

}  // namespace gossipkv
