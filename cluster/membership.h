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
// partition or a restarted seed merges back without an operator. A restart
// gets a new incarnation, which supersedes the old state everywhere.
//
// Owned by one thread (the node's loop, or the simulator).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/outbox.h"
#include "cluster/phi_accrual.h"
#include "proto/peer.pb.h"
#include "util/random.h"

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
  // `self` carries this node's id, addresses and incarnation (its start
  // time in ms); version and status are managed here.
  Membership(pb::MemberState self, MembershipOptions options, Random& random,
             int64_t now_ms);

  void Tick(int64_t now_ms, Outbox& out);
  // `reply_to` is the sender's peer address (from the connection handshake).
  void Handle(int64_t now_ms, const std::string& reply_to,
              const pb::PeerMessage& message, Outbox& out);
  // Announces a graceful departure to a few peers.
  void Leave(int64_t now_ms, Outbox& out);

  std::vector<MemberView> Members(int64_t now_ms) const;
  const pb::MemberState& self() const { return self_; }
  const MembershipOptions& options() const { return options_; }
  // Liveness of a member; kDead for an unknown id.
  Liveness LivenessOf(const std::string& node_id) const;
  // The id of the member at `peer_address`, or "" if unknown.
  std::string IdAt(const std::string& peer_address) const;
  // The peer address of member `node_id`, or "" if unknown.
  std::string AddressOf(const std::string& node_id) const;
  // Ids of every other member that has not left, whatever its liveness:
  // the replicas a tombstone must reach before it may be collected.
  std::vector<std::string> CurrentMemberIds() const;
  // Peer addresses of members currently alive (not self).
  std::vector<std::string> LivePeerAddresses() const;
  size_t size() const { return members_.size() + 1; }
  size_t alive_count() const { return alive_ + 1; }  // self included

  // Members that became reachable (joined, came back, restarted) since the
  // last call: the replica starts anti-entropy with them.
  std::vector<std::string> TakeReachable();

 private:
  struct Member {
    pb::MemberState state;
    PhiAccrualDetector detector;
    Liveness liveness = Liveness::kAlive;
    int64_t suspect_since_ms = 0;
    uint64_t mentioned = 0;  // stamp of the last SYN that named it
  };

  void Apply(int64_t now_ms, const pb::MemberState& state);
  void UpdateLiveness(int64_t now_ms);
  void StartRound(int64_t now_ms, Outbox& out);
  pb::PeerMessage NewMessage() const;
  // The state this node holds for `node_id` (self included), or null.
  const pb::MemberState* Find(const std::string& node_id) const;
  Member* FindMember(const std::string& node_id);
  void SetLiveness(Member& m, Liveness liveness);

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
};

}  // namespace gossipkv
