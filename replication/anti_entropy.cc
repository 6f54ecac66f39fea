// AntiEntropy: Merkle descent one level per message, then key lists, then
// entries both ways.
#include "replication/anti_entropy.h"

#include <algorithm>
#include <unordered_map>

#include "replication/entry_codec.h"

namespace gossipkv {

AntiEntropy::AntiEntropy(VersionedStore& store, const Membership& membership,
                         Random& random, AntiEntropyOptions options,
                         ReplicationStats& stats, int64_t now_ms)
    : store_(store),
      membership_(membership),
      random_(random),
      options_(options),
      stats_(stats),
      tokens_(static_cast<double>(options.bytes_per_second)),
      last_refill_ms_(now_ms) {
  next_session_ms_ =
      options_.interval_ms > 0
          ? now_ms + static_cast<int64_t>(random_.Uniform(
                         static_cast<uint64_t>(options_.interval_ms) + 1))
          : INT64_MAX;
}

pb::PeerMessage AntiEntropy::NewMessage() const {
  pb::PeerMessage m;
  m.set_from(membership_.self().node_id());
  return m;
}

std::string AntiEntropy::RandomLivePeer(const std::string& except) {
  std::vector<std::string> peers = membership_.LivePeerAddresses();
  std::erase(peers, except);
  return peers.empty() ? "" : peers[random_.Uniform(peers.size())];
}

void AntiEntropy::Tick(int64_t now_ms, Outbox& out) {
  now_ms_ = now_ms;
  std::vector<std::string> retry;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now_ms - it->second.last_activity_ms > options_.session_timeout_ms) {
      ++stats_.ae_sessions_timed_out;
      if (it->second.initiator) retry.push_back(it->second.peer);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& failed : retry) {
    std::string other = RandomLivePeer(failed);
    if (!other.empty()) StartWith(now_ms, other, out);
  }
  if (now_ms >= next_session_ms_) {
    next_session_ms_ = now_ms + options_.interval_ms;
    std::string peer = RandomLivePeer("");
    if (!peer.empty()) StartWith(now_ms, peer, out);
  }
  Release(now_ms, out);
}

void AntiEntropy::StartWith(int64_t now_ms, const std::string& address,
                            Outbox& out) {
  now_ms_ = now_ms;
  uint64_t id = random_.Next64();
  sessions_[id] = Session{address, now_ms, true};
  ++stats_.ae_sessions_started;
  const std::string peer_id = membership_.IdAt(address);
  if (!peer_id.empty()) stats_.ae_last_session_ms[peer_id] = now_ms;
  pb::PeerMessage m = NewMessage();
  auto* level = m.mutable_ae_tree_level();
  level->set_session(id);
  level->set_level(0);
  level->add_indices(0);
  level->add_hashes(store_.tree().Root());
  level->set_segment_bits(
      static_cast<uint32_t>(store_.tree().shape().segment_bits));
  level->set_fanout_bits(
      static_cast<uint32_t>(store_.tree().shape().fanout_bits));
  Queue(address, std::move(m));
  Release(now_ms, out);
}

void AntiEntropy::Handle(int64_t now_ms, const std::string& reply_to,
                         const pb::PeerMessage& message, Outbox& out) {
  now_ms_ = now_ms;
  stats_.ae_bytes_received += message.ByteSizeLong();
  uint64_t session = 0;
  switch (message.body_case()) {
    case pb::PeerMessage::kAeTreeLevel:
      session = message.ae_tree_level().session();
      break;
    case pb::PeerMessage::kAeKeyHashes:
      session = message.ae_key_hashes().session();
      break;
    case pb::PeerMessage::kAeEntries:
      session = message.ae_entries().session();
      break;
    case pb::PeerMessage::kAeInSync:
      session = message.ae_in_sync().session();
      break;
    default:
      return;
  }
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    it = sessions_.emplace(session, Session{reply_to, now_ms, false}).first;
    const std::string peer_id = membership_.IdAt(reply_to);
    if (!peer_id.empty()) stats_.ae_last_session_ms[peer_id] = now_ms;
  }
  it->second.last_activity_ms = now_ms;
  switch (message.body_case()) {
    case pb::PeerMessage::kAeTreeLevel:
      OnTreeLevel(reply_to, message.ae_tree_level());
      break;
    case pb::PeerMessage::kAeKeyHashes:
      OnKeyHashes(reply_to, message.ae_key_hashes());
      break;
    case pb::PeerMessage::kAeEntries:
      OnEntries(reply_to, message.ae_entries());
      break;
    case pb::PeerMessage::kAeInSync:
      ++stats_.ae_sessions_in_sync;
      sessions_.erase(session);
      break;
    default:
      break;
  }
  Release(now_ms, out);
}

void AntiEntropy::OnTreeLevel(const std::string& peer,
                              const pb::AeTreeLevel& in) {
  const MerkleTree& tree = store_.tree();
  const uint32_t level = in.level();
  if (level == 0 &&
      (in.segment_bits() != static_cast<uint32_t>(tree.shape().segment_bits) ||
       in.fanout_bits() != static_cast<uint32_t>(tree.shape().fanout_bits))) {
    sessions_.erase(in.session());  // another tree shape: cannot compare
    return;
  }
  if (level > static_cast<uint32_t>(tree.depth()) ||
      in.indices_size() != in.hashes_size()) {
    sessions_.erase(in.session());
    return;
  }
  ++stats_.ae_rounds;
  std::vector<uint32_t> differing;
  for (int i = 0; i < in.indices_size(); ++i) {
    const uint32_t index = in.indices(i);
    if (index >= tree.NodesAt(static_cast<int>(level))) {
      sessions_.erase(in.session());
      return;
    }
    if (tree.Node(static_cast<int>(level), index) != in.hashes(i))
      differing.push_back(index);
  }
  if (level == static_cast<uint32_t>(tree.depth()))
    stats_.ae_segments_compared += in.indices_size();
  if (differing.empty()) {
    pb::PeerMessage m = NewMessage();
    m.mutable_ae_in_sync()->set_session(in.session());
    Queue(peer, std::move(m));
    if (level == 0) ++stats_.ae_sessions_in_sync;
    sessions_.erase(in.session());
    return;
  }
  if (level == static_cast<uint32_t>(tree.depth())) {
    // Leaves: our (key, hash) lists of the differing segments, in messages
    // of whole segments each.
    pb::PeerMessage m = NewMessage();
    size_t bytes = 0;
    auto flush = [&] {
      if (m.ae_key_hashes().segments_size() == 0) return;
      m.mutable_ae_key_hashes()->set_session(in.session());
      Queue(peer, std::move(m));
      m = NewMessage();
      bytes = 0;
    };
    for (uint32_t segment : differing) {
      auto* hashes = m.mutable_ae_key_hashes();
      hashes->add_segments(segment);
      bytes += 5;
      Status s =
          store_.ScanSegment(segment, [&](std::string_view key, uint64_t hash) {
            auto* kh = hashes->add_keys();
            kh->set_key(std::string(key));
            kh->set_hash(hash);
            bytes += key.size() + 12;
          });
      (void)s;
      if (bytes >= options_.max_message_bytes) flush();
    }
    flush();
    return;
  }
  // Our hashes for the children of every differing node, one level down.
  pb::PeerMessage m = NewMessage();
  auto* out = m.mutable_ae_tree_level();
  out->set_session(in.session());
  out->set_level(level + 1);
  for (uint32_t index : differing) {
    auto children = tree.Children(static_cast<int>(level), index);
    for (uint32_t c = 0; c < children.size(); ++c) {
      out->add_indices(index * static_cast<uint32_t>(children.size()) + c);
      out->add_hashes(children[c]);
    }
  }
  Queue(peer, std::move(m));
}

void AntiEntropy::OnKeyHashes(const std::string& peer,
                              const pb::AeKeyHashes& in) {
  std::unordered_map<std::string_view, uint64_t> theirs;
  theirs.reserve(in.keys_size());
  for (const auto& kh : in.keys()) theirs.emplace(kh.key(), kh.hash());
  std::unordered_map<std::string, uint64_t> ours;
  std::vector<std::string> send, wanted;
  for (uint32_t segment : in.segments()) {
    if (segment >= store_.tree().shape().segment_count()) continue;
    Status s =
        store_.ScanSegment(segment, [&](std::string_view key, uint64_t hash) {
          ours.emplace(std::string(key), hash);
          if (!theirs.count(key)) send.emplace_back(key);
        });
    (void)s;
  }
  // Keys both hold, but differently, go both ways: each side merges.
  for (const auto& kh : in.keys()) {
    auto it = ours.find(kh.key());
    if (it == ours.end() || it->second != kh.hash()) wanted.push_back(kh.key());
  }
  ++stats_.ae_sessions_repaired;
  SendEntries(peer, in.session(), send, wanted, false);
}

void AntiEntropy::OnEntries(const std::string& peer, const pb::AeEntries& in) {
  WriteSet& set = store_.batch();
  std::vector<std::string> push_back;  // merged entries the peer still lacks
  for (const auto& e : in.entries()) {
    auto entry = DecodeEntry(e.entry());
    if (!entry) {
      ++stats_.bad_entries;
      continue;
    }
    auto changed = set.Merge(e.key(), *entry, kRepair);
    if (!changed) {
      ++stats_.bad_entries;
      continue;
    }
    if (*changed) ++stats_.ae_keys_pulled;
    if (in.reply()) {
      auto merged = set.Read(e.key());
      if (merged && merged->has_value() && EncodeEntry(**merged) != e.entry()) {
        push_back.push_back(e.key());
      }
    }
  }
  if (in.wanted_size() > 0) {
    std::vector<std::string> keys(in.wanted().begin(), in.wanted().end());
    SendEntries(peer, in.session(), keys, {}, true);
  }
  if (!push_back.empty()) SendEntries(peer, in.session(), push_back, {}, false);
}

void AntiEntropy::SendEntries(const std::string& peer, uint64_t session,
                              const std::vector<std::string>& keys,
                              const std::vector<std::string>& wanted,
                              bool reply) {
  pb::PeerMessage m = NewMessage();
  m.mutable_ae_entries()->set_session(session);
  m.mutable_ae_entries()->set_reply(reply);
  size_t bytes = 0;
  for (const auto& w : wanted) {
    m.mutable_ae_entries()->add_wanted(w);
    bytes += w.size() + 4;
  }
  for (const auto& key : keys) {
    auto entry = store_.Get(key);
    if (!entry || !entry->has_value())
      continue;  // unreadable here: the peer keeps its own
    std::string encoded = EncodeEntry(**entry);
    if (bytes > 0 &&
        bytes + encoded.size() + key.size() > options_.max_message_bytes) {
      Queue(peer, std::move(m));
      m = NewMessage();
      m.mutable_ae_entries()->set_session(session);
      m.mutable_ae_entries()->set_reply(reply);
      bytes = 0;
    }
    ++stats_.ae_keys_pushed;
    stats_.ae_entry_bytes_sent += encoded.size();
    bytes += encoded.size() + key.size() + 8;
    auto* e = m.mutable_ae_entries()->add_entries();
    e->set_key(key);
    e->set_entry(std::move(encoded));
  }
  if (m.ae_entries().entries_size() > 0 || m.ae_entries().wanted_size() > 0)
    Queue(peer, std::move(m));
}

void AntiEntropy::Queue(const std::string& peer, pb::PeerMessage message) {
  queue_.push_back({peer, std::move(message)});
}

void AntiEntropy::Release(int64_t now_ms, Outbox& out) {
  const double rate = static_cast<double>(options_.bytes_per_second);
  tokens_ = std::min(
      rate,
      tokens_ + rate * static_cast<double>(now_ms - last_refill_ms_) / 1000.0);
  last_refill_ms_ = now_ms;
  // A message bigger than what is left still goes when the bucket is full,
  // driving it negative: the budget holds on average.
  while (!queue_.empty() && tokens_ > 0) {
    const double size =
        static_cast<double>(queue_.front().message.ByteSizeLong() + 4);
    tokens_ -= size;
    ++stats_.ae_messages_sent;
    stats_.ae_bytes_sent += static_cast<uint64_t>(size);
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

}  // namespace gossipkv
