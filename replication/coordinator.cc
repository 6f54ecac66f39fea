// Coordinator: ReplicaWrite chunks out, ReplicaAcks counted per key.
#include "replication/coordinator.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/hash.h"
#include "versioning/entry_codec.h"

namespace gossipkv {

Coordinator::Coordinator(VersionedStore& store, Membership& membership,
                         int64_t now_ms, CoordinatorOptions options,
                         ReplicationStats& stats)
    : store_(store),
      membership_(membership),
      options_(options),
      stats_(stats),
      next_id_(Hash64(membership.self().incarnation(),
                      static_cast<uint64_t>(now_ms))),
      hints_(store, membership, options_, stats, now_ms) {
  if (next_id_ == 0) next_id_ = 1;  // 0 is a read repair's push
}

std::string Coordinator::StandIn(
    int64_t now_ms, const Ring& ring, uint32_t partition,
    const std::string& owner, std::vector<std::string>& taken,
    std::unordered_map<uint32_t, std::vector<std::string>>& preferences) {
  if (!options_.hinted_handoff ||
      membership_.LivenessOf(owner) == Liveness::kAlive) {
    return "";
  }
  auto down_since = membership_.DownSinceMs(owner);
  if (!down_since) return "";  // left, or not known: no hints for it
  if (now_ms - *down_since > options_.hint_window_ms) {
    ++stats_.hints_past_window;
    return "";
  }
  const std::string& self = membership_.self().node_id();
  auto [known, fresh] = preferences.try_emplace(partition);
  if (fresh) known->second = ring.PreferenceList(partition);
  const std::vector<std::string>& preference = known->second;
  for (size_t i = ring.replicas(); i < preference.size(); ++i) {
    const std::string& id = preference[i];
    if (id == self || membership_.LivenessOf(id) != Liveness::kAlive ||
        membership_.AddressOf(id).empty() ||
        std::find(taken.begin(), taken.end(), id) != taken.end()) {
      continue;
    }
    taken.push_back(id);
    return id;
  }
  return "";
}

void Coordinator::Replicate(int64_t now_ms, const Ring& ring,
                            const std::vector<std::string>& written,
                            uint32_t quorum, Completion done, Outbox& out,
                            bool handoff) {
  const std::string& self = membership_.self().node_id();
  const int self_index = ring.IndexOf(self);
  // Each key once (an MSET may name one many times). The quorum is not
  // lowered to the members this node knows: too few is -NOREPLICAS.
  std::vector<std::string> keys = written;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::map<std::string, size_t> chunk_bytes;  // of the open chunks
  const uint64_t id = next_id_++;
  Request request;
  request.quorum = quorum;
  request.handoff = handoff;
  request.deadline_ms = now_ms + options_.request_timeout_ms;
  request.resend_ms =
      now_ms + std::max<int64_t>(options_.request_timeout_ms / 2, 1);
  request.acks.assign(keys.size(), 0);
  // Per owner, the chunk being filled.
  std::map<std::string, std::pair<pb::PeerMessage, Chunk>> open;
  // Preference lists of the partitions a stand-in was looked for in.
  std::unordered_map<uint32_t, std::vector<std::string>> preferences;
  auto ship = [&](std::string chunk_key) {
    auto& [message, chunk] = open.at(chunk_key);
    const uint64_t chunk_id = next_id_++;
    message.mutable_replica_write()->set_request(chunk_id);
    if (!message.replica_write().hint_for().empty())
      ++stats_.hinted_writes_sent;
    chunk.request = id;
    chunk.sent = {membership_.AddressOf(chunk.owner), std::move(message)};
    out.push_back(chunk.sent);
    chunks_.emplace(chunk_id, std::move(chunk));
    request.chunks.push_back(chunk_id);
    ++stats_.replica_writes_sent;
    open.erase(chunk_key);
  };
  for (size_t k = 0; k < keys.size(); ++k) {
    const uint32_t partition = ring.PartitionOfKey(keys[k]);
    if (self_index >= 0 && ring.Owns(self_index, partition))
      request.acks[k] = 1;
    auto entry = store_.Get(keys[k]);
    if (!entry || !entry->has_value()) {
      // Collected (every member held it) or unreadable here: nothing to
      // send; a read error leaves it under its quorum.
      if (entry) request.acks[k] = quorum;
    } else {
      const std::string encoded = EncodeEntry(**entry);
      std::vector<std::string> taken;  // stand-ins this key already has
      for (uint16_t owner_index : ring.Owners(partition)) {
        const std::string& owner = ring.members()[owner_index];
        if (owner == self || membership_.AddressOf(owner).empty()) continue;
        // An owner that is down is stood in for by the next live node of
        // the preference list, which holds a hint for it.
        const std::string stand_in =
            handoff
                ? ""
                : StandIn(now_ms, ring, partition, owner, taken, preferences);
        const std::string& to = stand_in.empty() ? owner : stand_in;
        const std::string chunk_key =
            stand_in.empty() ? owner : stand_in + '\0' + owner;
        auto it = open.find(chunk_key);
        if (it == open.end()) {
          it = open.try_emplace(chunk_key).first;
          it->second.first.set_from(self);
          if (!stand_in.empty())
            it->second.first.mutable_replica_write()->set_hint_for(owner);
          it->second.second.owner = to;
        }
        auto* write = it->second.first.mutable_replica_write();
        pb::KeyEntry* e = write->add_entries();
        e->set_key(keys[k]);
        e->set_entry(encoded);
        it->second.second.keys.push_back(static_cast<uint32_t>(k));
        size_t& bytes = chunk_bytes[chunk_key];
        bytes += keys[k].size() + encoded.size() + 16;
        if (bytes >= options_.max_message_bytes) {
          bytes = 0;
          ship(chunk_key);
        }
      }
    }
    if (request.acks[k] < quorum) ++request.short_keys;
  }
  while (!open.empty()) ship(open.begin()->first);
  if (request.short_keys == 0) {
    // Nobody waits for the chunks' answers.
    for (uint64_t chunk : request.chunks) chunks_.erase(chunk);
    done(Status::Ok(), {});
    return;
  }
  if (!handoff) ++stats_.quorum_writes;
  request.keys = std::move(keys);
  request.done = std::move(done);
  requests_.emplace(id, std::move(request));
}

void Coordinator::HandleWrite(const Ring& ring, const std::string& reply_to,
                              const pb::PeerMessage& message, Outbox& out) {
  ++stats_.replica_writes_received;
  bool ok = true;
  WriteSet& set = store_.batch();
  const std::string& hint_for = message.replica_write().hint_for();
  for (const auto& e : message.replica_write().entries()) {
    auto entry = DecodeEntry(e.entry());
    if (!entry || !set.Merge(e.key(), *entry, kRepair)) {
      ++stats_.bad_entries;
      ok = false;
    } else if (!hint_for.empty()) {
      // A stand-in's ack vouches for the hint too: refused (handoff off
      // here, or the owner's budget spent), it does not count.
      ok = options_.hinted_handoff &&
           hints_.Accept(hint_for, ring.PartitionOfKey(e.key()), e.key(),
                         *entry) &&
           ok;
    }
  }
  // Request 0 is a read repair's push: nobody waits for an answer.
  if (message.replica_write().request() == 0) return;
  pb::PeerMessage ack;
  ack.set_from(membership_.self().node_id());
  ack.mutable_replica_ack()->set_request(message.replica_write().request());
  ack.mutable_replica_ack()->set_ok(ok);
  out.push_back({reply_to, std::move(ack)});
}

void Coordinator::HandleAck(const pb::PeerMessage& message) {
  ++stats_.replica_acks_received;
  auto chunk = chunks_.find(message.replica_ack().request());
  if (chunk == chunks_.end()) {
    hints_.HandleAck(message);  // a replayed batch of hints, or nothing
    return;
  }
  // Only the owner it went to answers for a chunk, once.
  if (chunk->second.owner != message.from()) return;
  const Chunk done = std::move(chunk->second);
  chunks_.erase(chunk);
  if (!message.replica_ack().ok()) return;
  auto request = requests_.find(done.request);
  if (request == requests_.end()) return;
  Request& r = request->second;
  for (uint32_t k : done.keys) {
    if (++r.acks[k] == r.quorum) --r.short_keys;
  }
  if (r.short_keys == 0) Finish(done.request, Status::Ok());
}

void Coordinator::Tick(int64_t now_ms, Outbox& out) {
  hints_.Tick(now_ms, next_id_, out);  // what is held replays regardless
  // Resend times grow with ids too: the ones due are the first after the
  // last resent.
  for (auto it = requests_.lower_bound(resend_next_);
       it != requests_.end() && it->second.resend_ms <= now_ms; ++it) {
    resend_next_ = it->first + 1;
    Request& r = it->second;
    for (uint64_t chunk : r.chunks) {
      auto it = chunks_.find(chunk);
      if (it == chunks_.end()) continue;
      out.push_back(it->second.sent);
      ++stats_.replica_writes_resent;
    }
  }
  while (!requests_.empty() &&
         requests_.begin()->second.deadline_ms <= now_ms) {
    auto late = requests_.begin();
    const Request& r = late->second;
    uint32_t fewest = r.quorum;
    std::vector<std::string> short_keys;
    for (size_t k = 0; k < r.acks.size(); ++k) {
      fewest = std::min(fewest, r.acks[k]);
      if (r.acks[k] < r.quorum) short_keys.push_back(r.keys[k]);
    }
    if (!r.handoff) ++stats_.quorum_writes_failed;
    Finish(late->first,
           Status::Unavailable(fmt::format(
               "only {} of the {} replicas needed acknowledged within {} ms; "
               "the write is stored on this node and may still reach the "
               "others",
               fewest, r.quorum, options_.request_timeout_ms)),
           std::move(short_keys));
  }
}

void Coordinator::Finish(uint64_t request, const Status& status,
                         std::vector<std::string> short_keys) {
  auto it = requests_.find(request);
  Completion done = std::move(it->second.done);
  for (uint64_t chunk : it->second.chunks) chunks_.erase(chunk);
  requests_.erase(it);
  done(status, std::move(short_keys));
}

}  // namespace gossipkv
