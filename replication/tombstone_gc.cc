// TombstoneCollector: query rounds, answers, and collection.
#include "replication/tombstone_gc.h"

#include <algorithm>

#include "versioning/entry_codec.h"

namespace gossipkv {

TombstoneCollector::TombstoneCollector(VersionedStore& store,
                                       const Membership& membership,
                                       Random& random,
                                       TombstoneGcOptions options,
                                       ReplicationStats& stats, int64_t now_ms)
    : store_(store),
      membership_(membership),
      random_(random),
      options_(options),
      stats_(stats),
      next_round_ms_(random.FirstDeadline(now_ms, options.interval_ms)) {}

void TombstoneCollector::Tick(int64_t now_ms, Outbox& out) {
  if (options_.interval_ms <= 0) return;
  // Stored as soon as gossip reports them, so a restart remembers them.
  if (std::set<std::string> members = Members();
      members != store_.gc_members()) {
    store_.batch().SetGcMembers(std::move(members));
  }
  if (round_ && now_ms - round_->started_ms > options_.round_timeout_ms) {
    ++stats_.gc_rounds_abandoned;
    round_.reset();
  }
  if (round_ || now_ms < next_round_ms_) return;
  next_round_ms_ = now_ms + options_.interval_ms;
  // A full batch means more are waiting: the next round comes sooner.
  if (StartRound(now_ms, out) >= options_.batch_keys)
    next_round_ms_ = now_ms + std::max<int64_t>(1, options_.interval_ms / 10);
}

std::vector<TombstoneCollector::Candidate>
TombstoneCollector::PickCandidates() {
  std::vector<Candidate> picked;
  const auto& keys = store_.tombstoned_keys();
  if (keys.empty()) return picked;
  // Keys with a live sibling beside the tombstone are skipped, but each
  // round looks at a bounded number of keys whatever it finds.
  const size_t max_visits = 4 * size_t{options_.batch_keys};
  size_t bytes = 0, visits = 0;
  auto it = keys.upper_bound(cursor_);
  for (; visits < std::min(max_visits, keys.size()) &&
         picked.size() < options_.batch_keys &&
         bytes < options_.max_message_bytes / 2;
       ++visits, ++it) {
    if (it == keys.end()) it = keys.begin();
    cursor_ = *it;
    auto entry = store_.batch().Read(*it);
    if (!entry || !entry->has_value() || !(*entry)->AllTombstones()) continue;
    bytes += it->size() + 32 * (*entry)->clock.items().size() + 16;
    picked.push_back({*it, std::move(**entry)});
  }
  return picked;
}

std::set<std::string> TombstoneCollector::Members() const {
  std::set<std::string> members = store_.gc_members();
  for (auto& id : membership_.CurrentMemberIds()) members.insert(std::move(id));
  std::erase_if(members, [&](const std::string& id) {
    return membership_.LivenessOf(id) == Liveness::kLeft ||
           membership_.IsForgotten(id);
  });
  return members;
}

std::vector<std::string> TombstoneCollector::BlockedBy() const {
  std::vector<std::string> blocked;
  if (options_.interval_ms <= 0) return blocked;
  for (const auto& id : Members()) {
    if (membership_.LivenessOf(id) != Liveness::kAlive ||
        membership_.AddressOf(id).empty())
      blocked.push_back(id);
  }
  return blocked;
}

bool TombstoneCollector::AloneByDesign() const {
  const std::string& self = membership_.self().peer_address();
  return std::all_of(membership_.options().seeds.begin(),
                     membership_.options().seeds.end(),
                     [&](const std::string& seed) { return seed == self; });
}

size_t TombstoneCollector::StartRound(int64_t now_ms, Outbox& out) {
  const std::set<std::string> everyone = Members();
  const std::vector<std::string> members(everyone.begin(), everyone.end());
  if (members.empty() && !AloneByDesign()) {
    // Not a cluster of one: a node with seeds to join that has not heard of
    // any member yet.
    ++stats_.gc_rounds_deferred;
    return 0;
  }
  for (const auto& id : members) {
    if (membership_.LivenessOf(id) != Liveness::kAlive ||
        membership_.AddressOf(id).empty()) {
      // It cannot answer; and it may hold what a tombstone deleted.
      ++stats_.gc_rounds_deferred;
      return 0;
    }
  }
  std::vector<Candidate> candidates = PickCandidates();
  const size_t offered = candidates.size();
  if (offered == 0) return 0;
  ++stats_.gc_rounds;
  stats_.gc_tombstones_offered += candidates.size();
  round_ = Round{random_.Next64(),
                 now_ms,
                 std::move(candidates),
                 {members.begin(), members.end()},
                 {members.begin(), members.end()}};
  if (members.empty()) {  // a cluster of one: nobody else to hear from
    Finish(out);
    return offered;
  }
  pb::PeerMessage m;
  m.set_from(membership_.self().node_id());
  auto* query = m.mutable_gc_query();
  query->set_round(round_->id);
  for (const auto& c : round_->candidates) {
    auto* tombstone = query->add_tombstones();
    tombstone->set_key(c.key);
    tombstone->set_entry(EncodeEntry(c.entry));
  }
  for (const auto& id : members) Send(membership_.AddressOf(id), m, out);
  return offered;
}

void TombstoneCollector::Handle(const std::string& reply_to,
                                const pb::PeerMessage& message, Outbox& out) {
  if (message.has_gc_query()) {
    Answer(reply_to, message.gc_query(), out);
  } else if (message.has_gc_ack()) {
    OnAck(message.from(), message.gc_ack(), out);
  } else if (message.has_gc_collected()) {
    OnCollected(message.gc_collected());
  }
}

void TombstoneCollector::Send(const std::string& to,
                              const pb::PeerMessage& message, Outbox& out) {
  ++stats_.gc_messages_sent;
  stats_.gc_bytes_sent += message.ByteSizeLong() + 4;
  out.push_back({to, message});
}

void TombstoneCollector::Answer(const std::string& reply_to,
                                const pb::GcQuery& query, Outbox& out) {
  pb::PeerMessage m;
  m.set_from(membership_.self().node_id());
  auto* ack = m.mutable_gc_ack();
  ack->set_round(query.round());
  ack->add_members(membership_.self().node_id());
  for (const auto& id : Members()) ack->add_members(id);
  for (int i = 0; i < query.tombstones_size(); ++i) {
    const pb::KeyEntry& tombstone = query.tombstones(i);
    auto theirs = DecodeEntry(tombstone.entry());
    if (!theirs || !theirs->AllTombstones()) {
      ++stats_.bad_entries;
      continue;
    }
    auto covered = store_.batch().Covers(tombstone.key(), *theirs);
    if (covered && *covered) ack->add_covered(static_cast<uint32_t>(i));
  }
  ++stats_.gc_queries_answered;
  Send(reply_to, m, out);
}

void TombstoneCollector::OnAck(const std::string& from, const pb::GcAck& ack,
                               Outbox& out) {
  if (!round_ || ack.round() != round_->id || !round_->awaiting.erase(from))
    return;
  for (const auto& id : ack.members()) {
    // A member it names that this node knows left or was forgotten is out,
    // whether or not `from` has heard so yet.
    if (id != membership_.self().node_id() && !round_->asked.count(id) &&
        !membership_.IsForgotten(id) &&
        membership_.LivenessOf(id) != Liveness::kLeft)
      round_->unknown_member = true;  // `from` knows someone we did not ask
  }
  std::vector<uint32_t> covered(ack.covered().begin(), ack.covered().end());
  std::sort(covered.begin(), covered.end());
  covered.erase(std::unique(covered.begin(), covered.end()), covered.end());
  for (uint32_t i : covered) {
    if (i < round_->candidates.size()) ++round_->candidates[i].confirmations;
  }
  if (round_->awaiting.empty()) Finish(out);
}

void TombstoneCollector::Finish(Outbox& out) {
  Round round = std::move(*round_);
  round_.reset();
  // A member this node did not ask — one that joined meanwhile, or one an
  // answer named that this node has not heard of yet — may hold anything.
  bool all_asked = !round.unknown_member;
  for (const auto& id : membership_.CurrentMemberIds())
    all_asked = all_asked && round.asked.count(id);
  if (!all_asked) {
    ++stats_.gc_rounds_abandoned;
    return;
  }
  pb::PeerMessage m;
  m.set_from(membership_.self().node_id());
  auto* done = m.mutable_gc_collected();
  for (const auto& c : round.candidates) {
    if (c.confirmations != round.asked.size()) continue;
    auto collected = store_.batch().Collect(c.key, c.entry);
    if (!collected || !*collected) continue;
    ++stats_.gc_tombstones_collected;
    done->add_keys(c.key);
    done->add_entry_hashes(EntryHash(c.key, EncodeEntry(c.entry)));
  }
  if (done->keys_size() == 0) return;
  for (const auto& id : round.asked) {
    const std::string address = membership_.AddressOf(id);
    if (!address.empty()) Send(address, m, out);
  }
}

void TombstoneCollector::OnCollected(const pb::GcCollected& collected) {
  if (collected.keys_size() != collected.entry_hashes_size()) {
    ++stats_.bad_entries;
    return;
  }
  WriteSet& set = store_.batch();
  for (int i = 0; i < collected.keys_size(); ++i) {
    const std::string& key = collected.keys(i);
    auto entry = set.Read(key);
    if (!entry || !entry->has_value() ||
        EntryHash(key, EncodeEntry(**entry)) != collected.entry_hashes(i))
      continue;  // not the entry every member was found to cover
    auto dropped = set.Collect(key, **entry);
    if (dropped && *dropped) {
      ++stats_.gc_tombstones_collected;
      ++stats_.gc_collected_on_notice;
    }
  }
}

}  // namespace gossipkv
