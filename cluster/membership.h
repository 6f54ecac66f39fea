// Membership: who is in the cluster and who is alive, learned by gossip.
// Sans I/O: it is driven by Tick(now) and Handle(message) and
// appends the messages it wants sent to an Outbox; the server's peer
// transport and the simulator deliver them.
//
// Every gossip_interval a member bumps its own version (its heartbeat) and
// runs push-pull with `fanout` random live peers — SYN (digests of all it
// knows) -> ACK (newer states + requests) -> ACK2 (requested states) — so
// only newer states travel. Each peer's heartbeats feed a phi-accrual
// detector: phi over the threshold makes it suspect, suspect for
// dead_after_ms makes it dead. Verdicts are local, as in Cassandra; what a
// member says of itself (alive, left) is gossiped. Dead members are still
// contacted now and then, and seeds whenever nobody is alive, so a healed
// partition or a restarted seed merges back without an operator. The
// members are stored (MemberRecord), so a restarted node starts knowing
// them and gossips with them without a seed. A restart
// gets a new incarnation (a stored counter, MemberRecord), which supersedes
// the old state everywhere; hearing a state of itself from a newer
// incarnation than its own (its counter was lost with its disk), a node
// refutes it by jumping past it.
//
// An operator removes a member that is down or has left with Forget()
// (CLUSTER FORGET). A forgotten id is dropped from the member list and
// remembered, with the highest incarnation known of it, in a grow-only set
// that gossip spreads with every SYN; states about it, from peers that have
// not heard yet, are ignored, and so is everything the member itself sends,
// whatever its incarnation: coming back with the same id, it is refused for
// good (its disk may hold values whose deletions were collected without
// it). It learns so from the first peer it reaches, and stops gossiping.
//
// Owned by one thread (the node's loop, or the simulator).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/outbox.h"
#include "cluster/phi_accrual.h"
#include "proto/peer.pb.h"
#include "util/random.h"
#include "util/status.h"

namespace gossipkv {

struct MembershipOptions {
  int64_t gossip_interval_ms = 1000;
  uint32_t fanout = 3;
  double phi_threshold = 8.0;
  int64_t dead_after_ms = 30'000;
  std::vector<std::string> seeds;  // peer addresses
  // Each round, the chance of also gossiping with one dead member (how a
  // healed partition is noticed) and with one seed while others are alive.
  double dead_probe_probability = 0.25;
  double seed_probe_probability = 0.1;
  // A heartbeat from an alive member whose phi had reached this is a return
  // from a gap (about 4.6 mean intervals of silence): whatever cut it off —
  // a partition, a stalled process, lost packets — writes may have been
  // missed both ways, so the member counts as reachable again. Below the
  // suspicion threshold, so a cut too short to suspect anyone still leads
  // to repair.
  double gap_phi = 2.0;
};

enum class Liveness { kAlive, kSuspect, kDead, kLeft };
const char* LivenessName(Liveness liveness);

// One row of MEMBERS.
struct MemberView {
  std::string node_id;
  std::string peer_address;
  std::string client_address;
  uint64_t incarnation = 0;
  uint64_t version = 0;
  Liveness liveness = Liveness::kAlive;
  int64_t heartbeat_age_ms = 0;
  double phi = 0;
  bool self = false;
};

class Membership {
 public:
  // `self` carries this node's id, addresses and incarnation (a counter
  // its driver stores and bumps at every start); version and status are
  // managed here.
  Membership(pb::MemberState self, MembershipOptions options, Random& random,
             int64_t now_ms);

  void Tick(int64_t now_ms, Outbox& out);
  // `reply_to` is the sender's peer address (from the connection handshake).
  void Handle(int64_t now_ms, const std::string& reply_to,
              const pb::PeerMessage& message, Outbox& out);
  // Announces a graceful departure to a few peers.
  void Leave(int64_t now_ms, Outbox& out);
  // The operator removes member `node_id` for good. Refused for this node
  // itself and for a member currently alive; an id this node does not know
  // is refused unless `remembered` (the caller knows it otherwise, e.g. as a
  // member tombstone GC remembers). Forgetting it again is no error.
  Status Forget(const std::string& node_id, bool remembered = false);
  // Takes forgotten ids as stored (at start).
  void RestoreForgotten(const std::map<std::string, uint64_t>& forgotten);
  // id -> (peer address, incarnation): what a node stores of its members.
  using KnownMembers = std::map<std::string, std::pair<std::string, uint64_t>>;
  // Takes the members stored at the last run (at start, after
  // RestoreForgotten): each is known and alive, as a member first named by
  // gossip is, its heartbeat age counting from `now_ms` (so one that stays
  // silent is suspected, then dead), with the stored incarnation and
  // version 0, so gossip of that incarnation or a later one supersedes it
  // and a state of an earlier one does not.
  void RestoreMembers(const KnownMembers& members, int64_t now_ms);
  // Every other member not left: what the driver stores for
  // RestoreMembers.
  KnownMembers CurrentMembers() const;
  // Changes whenever that set, or a member's peer address, changes: when
  // the ring or the stored members need building again.
  uint64_t generation() const { return generation_; }
  // True when `node_id` (not this node) has been forgotten.
  bool IsForgotten(const std::string& node_id) const {
    return forgotten_.count(node_id) > 0;
  }
  // Forgotten ids with the highest incarnation known of each.
  const std::map<std::string, uint64_t>& forgotten() const {
    return forgotten_;
  }
  // True once a peer said this node itself was forgotten.
  bool self_forgotten() const { return self_forgotten_; }
  // If `message` comes from a forgotten member, handles it as refused (a
  // SYN is answered with the forgotten set, so the member learns it is out)
  // and returns true; the caller drops it.
  bool Refuse(const std::string& reply_to, const pb::PeerMessage& message,
              Outbox& out);
  // Forgotten ids refused for the first time since the last call (the
  // server logs them).
  std::vector<std::string> TakeNewlyRefused();
  uint64_t refused_messages() const { return refused_messages_; }
  // Times this node jumped past a state of itself from a newer incarnation.
  uint64_t refutations() const { return refutations_; }

  std::vector<MemberView> Members(int64_t now_ms) const;
  const pb::MemberState& self() const { return self_; }
  const MembershipOptions& options() const { return options_; }
  // Liveness of a member; kDead for an unknown id.
  Liveness LivenessOf(const std::string& node_id) const;
  // When member `node_id` was first suspected, if it is suspect or dead
  // now (0 for one restored from disk already down); nullopt otherwise.
  std::optional<int64_t> DownSinceMs(const std::string& node_id) const;
  // The id of the member at `peer_address`, or "" if unknown.
  std::string IdAt(const std::string& peer_address) const;
  // The peer address of member `node_id`, or "" if unknown.
  std::string AddressOf(const std::string& node_id) const;
  // True when gossip reports member `node_id` (not forgotten).
  bool Knows(const std::string& node_id) const {
    return index_.count(node_id) > 0;
  }
  // Ids of every other member that has not left, whatever its liveness:
  // the replicas a tombstone must reach before it may be collected.
  std::vector<std::string> CurrentMemberIds() const;
  // Peer addresses of members currently alive (not self).
  std::vector<std::string> LivePeerAddresses() const;
  size_t size() const { return members_.size() + 1; }
  size_t alive_count() const { return alive_ + 1; }  // self included

  // Members that became reachable (joined, came back from suspect, dead or
  // a gap in their heartbeats, restarted) since the last call: the replica
  // starts anti-entropy with one of them.
  std::vector<std::string> TakeReachable();

 private:
  struct Member {
    pb::MemberState state;
    PhiAccrualDetector detector;
    Liveness liveness = Liveness::kAlive;
    int64_t suspect_since_ms = 0;
    uint64_t mentioned = 0;  // stamp of the last SYN that named it
    bool restored = false;   // from the stored members, not heard since
  };

  void Apply(int64_t now_ms, const pb::MemberState& state);
  void UpdateLiveness(int64_t now_ms);
  void StartRound(int64_t now_ms, Outbox& out);
  pb::PeerMessage NewMessage() const;
  // The state this node holds for `node_id` (self included), or null.
  const pb::MemberState* Find(const std::string& node_id) const;
  Member* FindMember(const std::string& node_id);
  void SetLiveness(Member& m, Liveness liveness);
  // Adds `node_id` to the forgotten set (raising its incarnation) and drops
  // it from the members.
  void AddForgotten(const std::string& node_id, uint64_t incarnation);
  // Merges forgotten entries from a peer.
  void LearnForgotten(
      const google::protobuf::RepeatedPtrField<pb::MemberDigest>& forgotten);

  pb::MemberState self_;
  MembershipOptions options_;
  Random& random_;
  // Every other member ever seen, in order of discovery (never removed, so
  // indices are stable), and an index by id.
  std::vector<Member> members_;
  std::unordered_map<std::string, size_t> index_;
  // Peer address -> index into members_, for the transport's per-message
  // lookups (a restarted member may announce a new address).
  std::unordered_map<std::string, size_t> by_address_;
  size_t alive_ = 0;  // members_ with liveness kAlive
  uint64_t syn_stamp_ = 0;
  int64_t next_round_ms_;
  int64_t next_liveness_check_ms_ = 0;
  std::vector<std::string> reachable_;
  std::map<std::string, uint64_t> forgotten_;
  bool self_forgotten_ = false;
  std::set<std::string> refused_ids_;       // refused at least once
  std::vector<std::string> newly_refused_;  // not yet taken
  uint64_t refused_messages_ = 0;
  uint64_t refutations_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace gossipkv
