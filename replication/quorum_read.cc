// QuorumReader: ReadRequests out per owner, answers joined per key, and the
// joined entry pushed back to the owners that differ.
#include "replication/quorum_read.h"

#include <algorithm>

#include "util/hash.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

// A hash that is never the 0 "stores nothing" answer.
uint64_t EntryHash(std::string_view encoded) {
  return std::max<uint64_t>(Hash64(encoded), 1);
}

}  // namespace

QuorumReader::QuorumReader(VersionedStore& store, Membership& membership,
                           int64_t now_ms, CoordinatorOptions options,
                           ReplicationStats& stats)
    : store_(store),
      membership_(membership),
      options_(options),
      stats_(stats),
      next_id_(Hash64(membership.self().incarnation() ^ 0x5245414451ULL,
                      static_cast<uint64_t>(now_ms))) {}

void QuorumReader::Read(int64_t now_ms, const Ring& ring,
                        const std::vector<std::string>& asked, uint32_t quorum,
                        Completion done, Outbox& out) {
  const std::string& self = membership_.self().node_id();
  const int self_index = ring.IndexOf(self);
  const uint64_t id = next_id_++;
  Request r;
  r.quorum = quorum;
  r.deadline_ms = now_ms + options_.request_timeout_ms;
  r.resend_ms = now_ms + std::max<int64_t>(options_.request_timeout_ms / 2, 1);
  // Each key once; `order` answers in the order asked.
  std::unordered_map<std::string, uint32_t> index;
  for (const auto& key : asked) {
    auto [it, added] =
        index.try_emplace(key, static_cast<uint32_t>(r.keys.size()));
    if (added) r.keys.push_back({key, std::nullopt, {}});
    r.order.push_back(it->second);
  }
  std::map<std::string, std::pair<pb::PeerMessage, Chunk>> open;
  std::map<std::string, size_t> open_bytes;
  const bool filling = filling_ && filling_();
  auto ship = [&](const std::string& owner) {
    auto& [message, chunk] = open.at(owner);
    const uint64_t chunk_id = next_id_++;
    message.mutable_read_request()->set_request(chunk_id);
    chunk.request = id;
    chunk.answered.assign(chunk.keys.size(), false);
    chunk.left = chunk.keys.size();
    chunk.sent = {membership_.AddressOf(owner), std::move(message)};
    out.push_back(chunk.sent);
    ++stats_.read_requests_sent;
    r.chunks.push_back(chunk_id);
    chunks_.emplace(chunk_id, std::move(chunk));
    open.erase(owner);
    open_bytes.erase(owner);
  };
  for (uint32_t k = 0; k < r.keys.size(); ++k) {
    const std::string& key = r.keys[k].key;
    const uint32_t partition = ring.PartitionOfKey(key);
    if (self_index >= 0 && ring.Owns(self_index, partition) && !filling) {
      auto entry = store_.batch().Read(key);
      if (entry) {  // unreadable here: this node does not count
        const uint64_t hash =
            entry->has_value() ? EntryHash(EncodeEntry(**entry)) : 0;
        Answered(r, k, self, std::move(*entry), hash);
      }
    }
    for (uint16_t owner_index : ring.Owners(partition)) {
      const std::string& owner = ring.members()[owner_index];
      if (owner == self || membership_.AddressOf(owner).empty()) continue;
      auto it = open.find(owner);
      if (it == open.end()) {
        it = open.try_emplace(owner).first;
        it->second.first.set_from(self);
        it->second.second.owner = owner;
      }
      it->second.first.mutable_read_request()->add_keys(key);
      it->second.second.keys.push_back(k);
      ++r.unanswered;
      size_t& bytes = open_bytes[owner];
      bytes += key.size() + 8;
      if (bytes >= options_.max_message_bytes) ship(owner);
    }
  }
  while (!open.empty()) ship(open.begin()->first);
  // Answered() counted down from zero short keys; count them up now.
  r.short_keys = 0;
  for (const Key& key : r.keys) {
    if (key.answers.size() < quorum) ++r.short_keys;
  }
  r.done = std::move(done);
  ++stats_.quorum_reads;
  requests_.emplace(id, std::move(r));
  Settle(id, false, out);
}

void QuorumReader::HandleRequest(const std::string& reply_to,
                                 const pb::PeerMessage& message, Outbox& out) {
  ++stats_.read_requests_received;
  const auto& request = message.read_request();
  // Being filled: "stores nothing" may be "not streamed yet". Unanswered,
  // this node does not count toward anyone's quorum.
  if (filling_ && filling_()) return;
  WriteSet& set = store_.batch();
  pb::PeerMessage reply;
  size_t bytes = 0;
  auto start = [&](int first) {
    reply.Clear();
    reply.set_from(membership_.self().node_id());
    reply.mutable_read_reply()->set_request(request.request());
    reply.mutable_read_reply()->set_first(static_cast<uint32_t>(first));
    bytes = 0;
  };
  start(0);
  for (int i = 0; i < request.keys_size(); ++i) {
    auto entry = set.Read(request.keys(i));
    if (!entry) {
      // Unreadable here: what was gathered goes, this key is not answered.
      if (reply.read_reply().entries_size() > 0)
        out.push_back({reply_to, reply});
      start(i + 1);
      continue;
    }
    std::string encoded = entry->has_value() ? EncodeEntry(**entry) : "";
    if (bytes > 0 && bytes + encoded.size() + 16 > options_.max_message_bytes) {
      out.push_back({reply_to, reply});
      start(i);
    }
    bytes += encoded.size() + 16;
    reply.mutable_read_reply()->add_entries(std::move(encoded));
  }
  if (reply.read_reply().entries_size() > 0 || request.keys_size() == 0)
    out.push_back({reply_to, std::move(reply)});
}

void QuorumReader::HandleReply(const pb::PeerMessage& message, Outbox& out) {
  const auto& reply = message.read_reply();
  auto chunk_it = chunks_.find(reply.request());
  // Only the owner asked answers for a chunk, once per key.
  if (chunk_it == chunks_.end() || chunk_it->second.owner != message.from())
    return;
  Chunk& chunk = chunk_it->second;
  auto request = requests_.find(chunk.request);
  if (request == requests_.end()) return;
  for (int i = 0; i < reply.entries_size(); ++i) {
    const size_t at = size_t{reply.first()} + static_cast<size_t>(i);
    if (at >= chunk.keys.size() || chunk.answered[at]) continue;
    const std::string& encoded = reply.entries(i);
    std::optional<Entry> entry;
    if (!encoded.empty()) {
      auto decoded = DecodeEntry(encoded);
      if (!decoded) {
        ++stats_.bad_entries;
        continue;
      }
      entry = std::move(*decoded);
    }
    chunk.answered[at] = true;
    --chunk.left;
    --request->second.unanswered;
    Answered(request->second, chunk.keys[at], chunk.owner, std::move(entry),
             encoded.empty() ? 0 : EntryHash(encoded));
  }
  const uint64_t id = chunk.request;
  if (chunk.left == 0) chunks_.erase(chunk_it);
  Settle(id, false, out);
}

void QuorumReader::Answered(Request& r, uint32_t k, const std::string& owner,
                            std::optional<Entry> entry, uint64_t hash) {
  Key& key = r.keys[k];
  key.answers.push_back({owner, hash});
  if (entry) {
    key.joined =
        key.joined ? Merge(*key.joined, *entry, store_.options().conflict_mode)
                   : std::move(*entry);
  }
  if (key.answers.size() == r.quorum && r.short_keys > 0) --r.short_keys;
}

void QuorumReader::Complete(Request& r) {
  std::vector<KeyRead> reads;
  reads.reserve(r.order.size());
  for (uint32_t k : r.order) {
    reads.push_back(
        {r.keys[k].joined, static_cast<uint32_t>(r.keys[k].answers.size())});
  }
  if (r.short_keys > 0) ++stats_.quorum_reads_failed;
  Completion done = std::move(r.done);
  r.done = nullptr;
  done(std::move(reads));
}

void QuorumReader::Settle(uint64_t id, bool deadline, Outbox& out) {
  auto it = requests_.find(id);
  Request& r = it->second;
  // Complete at the quorum, at the deadline, or once nobody asked can
  // answer any more (short then, but no need to wait).
  if (r.done && (r.short_keys == 0 || deadline || r.unanswered == 0)) {
    Complete(r);
    if (!deadline && r.unanswered > 0) {
      // It waits for the other owners, to repair them.
      if (!options_.read_repair || repairing_ >= options_.max_pending_repairs) {
        ++stats_.read_repairs_skipped;
        Drop(it);
        return;
      }
      r.repairing = true;
      ++repairing_;
      return;
    }
  }
  if (r.done) return;                         // still short of its quorum
  if (r.unanswered > 0 && !deadline) return;  // waiting to repair
  if (options_.read_repair && !r.tainted) Repair(r, out);
  if (r.tainted) ++stats_.read_repairs_skipped;
  Drop(it);
}

void QuorumReader::OnCommitFailed() {
  for (auto& [id, r] : requests_) r.tainted = true;
}

void QuorumReader::Drop(std::map<uint64_t, Request>::iterator it) {
  if (it->second.repairing) --repairing_;
  for (uint64_t chunk : it->second.chunks) chunks_.erase(chunk);
  requests_.erase(it);
}

void QuorumReader::Repair(const Request& r, Outbox& out) {
  const std::string& self = membership_.self().node_id();
  std::map<std::string, pb::PeerMessage> writes;
  std::map<std::string, size_t> bytes;
  for (const Key& key : r.keys) {
    if (!key.joined) continue;
    const std::string encoded = EncodeEntry(*key.joined);
    const uint64_t hash = EntryHash(encoded);
    for (const Answer& answer : key.answers) {
      if (answer.hash == hash) continue;
      if (answer.hash == 0 && key.joined->AllTombstones()) continue;
      ++stats_.read_repairs;
      if (answer.owner == self) {
        if (!store_.batch().Merge(key.key, *key.joined, kRepair))
          ++stats_.bad_entries;
        continue;
      }
      pb::PeerMessage& write = writes[answer.owner];
      write.set_from(self);
      pb::KeyEntry* e = write.mutable_replica_write()->add_entries();
      e->set_key(key.key);
      e->set_entry(encoded);
      size_t& sent = bytes[answer.owner];
      sent += key.key.size() + encoded.size() + 16;
      if (sent >= options_.max_message_bytes) {
        out.push_back({membership_.AddressOf(answer.owner), std::move(write)});
        writes.erase(answer.owner);
        sent = 0;
      }
    }
  }
  // Request 0: a push nobody answers.
  for (auto& [owner, write] : writes)
    out.push_back({membership_.AddressOf(owner), std::move(write)});
}

void QuorumReader::Tick(int64_t now_ms, Outbox& out) {
  for (auto it = requests_.lower_bound(resend_next_);
       it != requests_.end() && it->second.resend_ms <= now_ms; ++it) {
    resend_next_ = it->first + 1;
    for (uint64_t chunk : it->second.chunks) {
      auto c = chunks_.find(chunk);
      if (c == chunks_.end()) continue;
      out.push_back(c->second.sent);
      ++stats_.read_requests_resent;
    }
  }
  while (!requests_.empty() &&
         requests_.begin()->second.deadline_ms <= now_ms) {
    Settle(requests_.begin()->first, true, out);
  }
}

}  // namespace gossipkv
