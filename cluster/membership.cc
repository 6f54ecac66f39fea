// Membership: push-pull gossip of member states and phi-accrual liveness.
#include "cluster/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace gossipkv {
namespace {

bool Newer(uint64_t inc_a, uint64_t ver_a, uint64_t inc_b, uint64_t ver_b) {
  return inc_a != inc_b ? inc_a > inc_b : ver_a > ver_b;
}

void FillDigest(const pb::MemberState& s, pb::MemberDigest* d) {
  d->set_node_id(s.node_id());
  d->set_incarnation(s.incarnation());
  d->set_version(s.version());
}

}  // namespace

const char* LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kAlive:
      return "alive";
    case Liveness::kSuspect:
      return "suspect";
    case Liveness::kDead:
      return "dead";
    case Liveness::kLeft:
      return "left";
  }
  return "?";
}

Membership::Membership(pb::MemberState self, MembershipOptions options,
                       Random& random, int64_t now_ms)
    : self_(std::move(self)), options_(std::move(options)), random_(random) {
  self_.set_version(1);
  self_.set_status(pb::MEMBER_ALIVE);
  // A random phase, so a cluster started at once does not gossip in lockstep.
  next_round_ms_ =
      now_ms + static_cast<int64_t>(random_.Uniform(
                   static_cast<uint64_t>(options_.gossip_interval_ms) + 1));
}

pb::PeerMessage Membership::NewMessage() const {
  pb::PeerMessage m;
  m.set_from(self_.node_id());
  return m;
}

const pb::MemberState* Membership::Find(const std::string& node_id) const {
  if (node_id == self_.node_id()) return &self_;
  auto it = index_.find(node_id);
  return it == index_.end() ? nullptr : &members_[it->second].state;
}

Membership::Member* Membership::FindMember(const std::string& node_id) {
  auto it = index_.find(node_id);
  return it == index_.end() ? nullptr : &members_[it->second];
}

void Membership::SetLiveness(Member& m, Liveness liveness) {
  if ((m.liveness == Liveness::kLeft) != (liveness == Liveness::kLeft))
    ++generation_;
  if (m.liveness == Liveness::kAlive) --alive_;
  if (liveness == Liveness::kAlive) ++alive_;
  m.liveness = liveness;
}

void Membership::Tick(int64_t now_ms, Outbox& out) {
  // Twice a round is fine-grained enough for verdicts measured in rounds.
  if (now_ms >= next_liveness_check_ms_) {
    UpdateLiveness(now_ms);
    next_liveness_check_ms_ =
        now_ms + std::max<int64_t>(1, options_.gossip_interval_ms / 2);
  }
  if (now_ms < next_round_ms_) return;
  next_round_ms_ += options_.gossip_interval_ms;
  if (next_round_ms_ <= now_ms)
    next_round_ms_ = now_ms + options_.gossip_interval_ms;
  StartRound(now_ms, out);
}

void Membership::StartRound(int64_t now_ms, Outbox& out) {
  if (self_forgotten_) return;             // refused everywhere: nothing to say
  self_.set_version(self_.version() + 1);  // the heartbeat
  std::vector<const Member*> live, dead;
  for (const auto& m : members_) {
    if (m.liveness == Liveness::kAlive || m.liveness == Liveness::kSuspect) {
      live.push_back(&m);
    } else if (m.liveness == Liveness::kDead) {
      dead.push_back(&m);
    }
  }
  std::set<std::string> targets;
  // Partial Fisher-Yates: `fanout` distinct live peers.
  for (size_t i = 0; i < live.size() && targets.size() < options_.fanout; ++i) {
    size_t j = i + random_.Uniform(live.size() - i);
    std::swap(live[i], live[j]);
    targets.insert(live[i]->state.peer_address());
  }
  if (!dead.empty() && random_.Bernoulli(options_.dead_probe_probability)) {
    targets.insert(dead[random_.Uniform(dead.size())]->state.peer_address());
  }
  std::vector<std::string> seeds;
  for (const auto& s : options_.seeds) {
    if (s != self_.peer_address()) seeds.push_back(s);
  }
  if (!seeds.empty() &&
      (live.empty() || random_.Bernoulli(options_.seed_probe_probability))) {
    targets.insert(seeds[random_.Uniform(seeds.size())]);
  }
  if (targets.empty()) return;
  pb::PeerMessage syn = NewMessage();
  auto* digests = syn.mutable_gossip_syn()->mutable_digests();
  digests->Reserve(static_cast<int>(members_.size() + 1));
  FillDigest(self_, digests->Add());
  for (const auto& m : members_) FillDigest(m.state, digests->Add());
  for (const auto& [id, incarnation] : forgotten_) {
    auto* f = syn.mutable_gossip_syn()->add_forgotten();
    f->set_node_id(id);
    f->set_incarnation(incarnation);
  }
  for (const auto& t : targets) out.push_back({t, syn});
}

void Membership::Handle(int64_t now_ms, const std::string& reply_to,
                        const pb::PeerMessage& message, Outbox& out) {
  if (Refuse(reply_to, message, out)) return;
  switch (message.body_case()) {
    case pb::PeerMessage::kGossipSyn: {
      LearnForgotten(message.gossip_syn().forgotten());
      pb::PeerMessage reply = NewMessage();
      auto* ack = reply.mutable_gossip_ack();
      const uint64_t stamp = ++syn_stamp_;
      bool self_mentioned = false;
      for (const auto& d : message.gossip_syn().digests()) {
        if (IsForgotten(d.node_id())) continue;
        if (d.node_id() == self_.node_id()) {
          self_mentioned = true;
        } else if (Member* m = FindMember(d.node_id())) {
          m->mentioned = stamp;
        }
        const pb::MemberState* local = Find(d.node_id());
        if (local == nullptr || Newer(d.incarnation(), d.version(),
                                      local->incarnation(), local->version())) {
          auto* r = ack->add_requests();
          r->set_node_id(d.node_id());
          if (local != nullptr) {
            r->set_incarnation(local->incarnation());
            r->set_version(local->version());
          }
        } else if (Newer(local->incarnation(), local->version(),
                         d.incarnation(), d.version())) {
          *ack->add_states() = *local;
        }
      }
      if (!self_mentioned) *ack->add_states() = self_;
      for (const auto& m : members_) {
        if (m.mentioned != stamp) *ack->add_states() = m.state;
      }
      // The forgotten ids the sender has not heard of.
      std::set<std::string> known;
      for (const auto& f : message.gossip_syn().forgotten())
        known.insert(f.node_id());
      for (const auto& [id, incarnation] : forgotten_) {
        if (known.count(id)) continue;
        auto* f = ack->add_forgotten();
        f->set_node_id(id);
        f->set_incarnation(incarnation);
      }
      if (ack->states_size() > 0 || ack->requests_size() > 0 ||
          ack->forgotten_size() > 0)
        out.push_back({reply_to, reply});
      break;
    }
    case pb::PeerMessage::kGossipAck: {
      LearnForgotten(message.gossip_ack().forgotten());
      for (const auto& s : message.gossip_ack().states()) Apply(now_ms, s);
      pb::PeerMessage reply = NewMessage();
      auto* ack2 = reply.mutable_gossip_ack2();
      for (const auto& r : message.gossip_ack().requests()) {
        const pb::MemberState* local = Find(r.node_id());
        if (local != nullptr && Newer(local->incarnation(), local->version(),
                                      r.incarnation(), r.version())) {
          *ack2->add_states() = *local;
        }
      }
      if (ack2->states_size() > 0) out.push_back({reply_to, reply});
      break;
    }
    case pb::PeerMessage::kGossipAck2:
      for (const auto& s : message.gossip_ack2().states()) Apply(now_ms, s);
      break;
    default:
      break;  // not a membership message
  }
}

void Membership::Apply(int64_t now_ms, const pb::MemberState& state) {
  if (state.node_id().empty() || IsForgotten(state.node_id())) return;
  if (state.node_id() == self_.node_id()) {
    // Only this node speaks for itself. Someone holding a newer-looking
    // state of ours is outvoted by jumping past it: within this
    // incarnation, by version; from a newer incarnation (this node lost the
    // counter it stores, with its disk), by a newer incarnation still, or
    // everyone would keep taking this node's own word for older than a
    // state it no longer remembers.
    if (state.incarnation() > self_.incarnation()) {
      self_.set_incarnation(state.incarnation() + 1);
      self_.set_version(1);
      ++refutations_;
    } else if (state.incarnation() == self_.incarnation() &&
               state.version() > self_.version()) {
      self_.set_version(state.version() + 1);
    }
    return;
  }
  Member* found = FindMember(state.node_id());
  if (found == nullptr) {
    Member m{state, PhiAccrualDetector(
                        static_cast<double>(options_.gossip_interval_ms))};
    m.detector.Heartbeat(now_ms);
    m.liveness = Liveness::kLeft;
    index_.emplace(state.node_id(), members_.size());
    by_address_[state.peer_address()] = members_.size();
    members_.push_back(std::move(m));
    ++generation_;
    if (state.status() != pb::MEMBER_LEFT) {
      SetLiveness(members_.back(), Liveness::kAlive);
      reachable_.push_back(state.node_id());
    }
    return;
  }
  Member& m = *found;
  if (!Newer(state.incarnation(), state.version(), m.state.incarnation(),
             m.state.version())) {
    return;
  }
  const bool restarted = state.incarnation() != m.state.incarnation();
  if (state.peer_address() != m.state.peer_address()) {
    ++generation_;
    auto old = by_address_.find(m.state.peer_address());
    if (old != by_address_.end() && old->second == index_.at(state.node_id()))
      by_address_.erase(old);
    by_address_[state.peer_address()] = index_.at(state.node_id());
  }
  // First news of a member restored from disk: it may have missed writes
  // while this node was down, so it is reachable again like a restart.
  const bool gap = m.detector.Phi(now_ms) >= options_.gap_phi || m.restored;
  m.restored = false;
  if (restarted)
    m.detector =
        PhiAccrualDetector(static_cast<double>(options_.gossip_interval_ms));
  m.state = state;
  m.detector.Heartbeat(now_ms);
  if (state.status() == pb::MEMBER_LEFT) {
    SetLiveness(m, Liveness::kLeft);
  } else if (m.liveness != Liveness::kAlive || restarted || gap) {
    SetLiveness(m, Liveness::kAlive);
    reachable_.push_back(state.node_id());
  }
}

void Membership::UpdateLiveness(int64_t now_ms) {
  for (auto& m : members_) {
    if (m.liveness == Liveness::kLeft || m.liveness == Liveness::kDead)
      continue;
    if (m.detector.Phi(now_ms) <= options_.phi_threshold) continue;
    if (m.liveness == Liveness::kAlive) {
      SetLiveness(m, Liveness::kSuspect);
      m.suspect_since_ms = now_ms;
    } else if (now_ms - m.suspect_since_ms >= options_.dead_after_ms) {
      SetLiveness(m, Liveness::kDead);
    }
  }
}

void Membership::Leave(int64_t now_ms, Outbox& out) {
  self_.set_status(pb::MEMBER_LEFT);
  self_.set_version(self_.version() + 1);
  pb::PeerMessage ack2 = NewMessage();
  *ack2.mutable_gossip_ack2()->add_states() = self_;
  auto peers = LivePeerAddresses();
  for (size_t i = 0;
       i < peers.size() && i < std::max<size_t>(options_.fanout, 3); ++i) {
    out.push_back({peers[i], ack2});
  }
}

Status Membership::Forget(const std::string& node_id, bool remembered) {
  if (node_id == self_.node_id()) {
    return Status::InvalidArgument(
        "cannot forget this node itself (CLUSTER LEAVE takes a node out)");
  }
  if (IsForgotten(node_id)) return Status::Ok();
  const Member* m = FindMember(node_id);
  if (m == nullptr && !remembered)
    return Status::NotFound(fmt::format("unknown node id {}", node_id));
  if (m != nullptr && m->liveness == Liveness::kAlive) {
    return Status::InvalidArgument(fmt::format(
        "{} is alive: only a member that is down (suspect or dead) or has "
        "left can be forgotten",
        node_id));
  }
  AddForgotten(node_id, m != nullptr ? m->state.incarnation() : 0);
  return Status::Ok();
}

void Membership::RestoreForgotten(
    const std::map<std::string, uint64_t>& forgotten) {
  for (const auto& [id, incarnation] : forgotten) AddForgotten(id, incarnation);
}

void Membership::RestoreMembers(const KnownMembers& members, int64_t now_ms) {
  for (const auto& [id, known] : members) {
    const auto& [address, incarnation] = known;
    if (id.empty() || id == self_.node_id() || IsForgotten(id) ||
        FindMember(id) != nullptr)
      continue;
    Member m{
        pb::MemberState(),
        PhiAccrualDetector(static_cast<double>(options_.gossip_interval_ms))};
    m.state.set_node_id(id);
    m.state.set_peer_address(address);
    m.state.set_incarnation(incarnation);
    m.restored = true;
    m.detector.Heartbeat(now_ms);
    // Version 0: older than any state of this incarnation gossiped.
    m.liveness = Liveness::kAlive;
    ++alive_;
    index_.emplace(id, members_.size());
    by_address_[address] = members_.size();
    members_.push_back(std::move(m));
    ++generation_;
  }
}

Membership::KnownMembers Membership::CurrentMembers() const {
  KnownMembers out;
  for (const auto& m : members_) {
    if (m.liveness != Liveness::kLeft)
      out[m.state.node_id()] = {m.state.peer_address(), m.state.incarnation()};
  }
  return out;
}

void Membership::LearnForgotten(
    const google::protobuf::RepeatedPtrField<pb::MemberDigest>& forgotten) {
  for (const auto& f : forgotten) {
    if (!f.node_id().empty()) AddForgotten(f.node_id(), f.incarnation());
  }
}

void Membership::AddForgotten(const std::string& node_id,
                              uint64_t incarnation) {
  if (node_id == self_.node_id()) {
    self_forgotten_ = true;  // refused everywhere from now on
    return;
  }
  auto [it, added] = forgotten_.emplace(node_id, incarnation);
  if (!added) {
    it->second = std::max(it->second, incarnation);
    return;
  }
  auto found = index_.find(node_id);
  if (found == index_.end()) return;
  const size_t gone = found->second;
  if (members_[gone].liveness == Liveness::kAlive) --alive_;
  it->second = std::max(it->second, members_[gone].state.incarnation());
  members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(gone));
  ++generation_;
  index_.clear();
  by_address_.clear();
  for (size_t i = 0; i < members_.size(); ++i) {
    index_[members_[i].state.node_id()] = i;
    by_address_[members_[i].state.peer_address()] = i;
  }
  std::erase(reachable_, node_id);
}

bool Membership::Refuse(const std::string& reply_to,
                        const pb::PeerMessage& message, Outbox& out) {
  if (!IsForgotten(message.from())) return false;
  ++refused_messages_;
  if (refused_ids_.insert(message.from()).second)
    newly_refused_.push_back(message.from());
  if (message.has_gossip_syn()) {
    // Tell it: it was forgotten, and every peer refuses it.
    pb::PeerMessage reply = NewMessage();
    auto* ack = reply.mutable_gossip_ack();
    for (const auto& [id, incarnation] : forgotten_) {
      auto* f = ack->add_forgotten();
      f->set_node_id(id);
      f->set_incarnation(incarnation);
    }
    out.push_back({reply_to, reply});
  }
  return true;
}

std::vector<std::string> Membership::TakeNewlyRefused() {
  std::vector<std::string> out;
  out.swap(newly_refused_);
  return out;
}

std::vector<MemberView> Membership::Members(int64_t now_ms) const {
  std::vector<MemberView> views;
  views.push_back(
      {self_.node_id(), self_.peer_address(), self_.client_address(),
       self_.incarnation(), self_.version(),
       self_.status() == pb::MEMBER_LEFT ? Liveness::kLeft : Liveness::kAlive,
       0, 0, true});
  for (const auto& m : members_) {
    views.push_back(
        {m.state.node_id(), m.state.peer_address(), m.state.client_address(),
         m.state.incarnation(), m.state.version(), m.liveness,
         now_ms - m.detector.last_arrival_ms(), m.detector.Phi(now_ms), false});
  }
  return views;
}

std::optional<int64_t> Membership::DownSinceMs(
    const std::string& node_id) const {
  auto it = index_.find(node_id);
  if (it == index_.end()) return std::nullopt;
  const Member& m = members_[it->second];
  if (m.liveness != Liveness::kSuspect && m.liveness != Liveness::kDead)
    return std::nullopt;
  return m.suspect_since_ms;
}

Liveness Membership::LivenessOf(const std::string& node_id) const {
  if (node_id == self_.node_id()) return Liveness::kAlive;
  auto it = index_.find(node_id);
  return it == index_.end() ? Liveness::kDead : members_[it->second].liveness;
}

std::string Membership::IdAt(const std::string& peer_address) const {
  if (peer_address == self_.peer_address()) return self_.node_id();
  auto it = by_address_.find(peer_address);
  return it == by_address_.end() ? "" : members_[it->second].state.node_id();
}

std::string Membership::AddressOf(const std::string& node_id) const {
  const pb::MemberState* state = Find(node_id);
  return state == nullptr ? "" : state->peer_address();
}

std::vector<std::string> Membership::CurrentMemberIds() const {
  std::vector<std::string> out;
  for (const auto& m : members_) {
    if (m.liveness != Liveness::kLeft) out.push_back(m.state.node_id());
  }
  return out;
}

std::vector<std::string> Membership::LivePeerAddresses() const {
  std::vector<std::string> out;
  for (const auto& m : members_) {
    if (m.liveness == Liveness::kAlive) out.push_back(m.state.peer_address());
  }
  return out;
}

std::vector<std::string> Membership::TakeReachable() {
  std::vector<std::string> out;
  out.swap(reachable_);
  return out;
}

}  // namespace gossipkv
