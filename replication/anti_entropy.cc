// AntiEntropy: Merkle descent one level per message, then key lists, then
// entries both ways.
#include "replication/anti_entropy.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "util/hash.h"
#include "versioning/entry_codec.h"

namespace gossipkv {

AntiEntropy::AntiEntropy(VersionedStore& store, const Membership& membership,
                         Random& random, AntiEntropyOptions options,
                         ReplicationStats& stats, int64_t now_ms,
                         PartitionScope* scope)
    : store_(store),
      membership_(membership),
      random_(random),
      options_(options),
      stats_(stats),
      scope_(scope),
      tokens_(static_cast<double>(options.bytes_per_second)),
      last_refill_ms_(now_ms) {
  next_session_ms_ = random_.FirstDeadline(now_ms, options_.interval_ms);
}

pb::PeerMessage AntiEntropy::NewMessage() const {
  pb::PeerMessage m;
  m.set_from(membership_.self().node_id());
  return m;
}

bool AntiEntropy::IsLive(const std::string& address) const {
  const std::vector<std::string> live = membership_.LivePeerAddresses();
  return std::find(live.begin(), live.end(), address) != live.end();
}

pb::PeerMessage AntiEntropy::RootMessage(const std::string& address,
                                         uint64_t session) {
  pb::PeerMessage m = NewMessage();
  auto* level = m.mutable_ae_tree_level();
  level->set_session(session);
  level->set_level(0);
  level->add_hashes(TreeFor(address).Root());
  level->set_segment_bits(
      static_cast<uint32_t>(store_.tree().shape().segment_bits));
  level->set_fanout_bits(
      static_cast<uint32_t>(store_.tree().shape().fanout_bits));
  level->set_key_count(store_.key_count());
  return m;
}

void AntiEntropy::Tick(int64_t now_ms, Outbox& out) {
  now_ms_ = now_ms;
  // Forgotten members' times go with them.
  for (auto* times : {&stats_.ae_last_session_ms, &stats_.ae_last_in_sync_ms})
    std::erase_if(*times,
                  [&](const auto& t) { return !membership_.Knows(t.first); });
  std::vector<std::string> retry;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now_ms - it->second.last_activity_ms > options_.session_timeout_ms) {
      // A session the peer answered has simply fallen quiet: its exchanges
      // are over (or the rest waits for the next session). One it never
      // answered failed: try another peer.
      if (it->second.initiator && !it->second.answered) {
        ++stats_.ae_sessions_timed_out;
        retry.push_back(it->second.peer);
      }
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  if (fill_ && now_ms - fill_->last_ms > FillStallMs()) {
    // The stream filling this node fell quiet (its sender stopped, or is
    // cut off): the fill resumes from its cursor with another peer.
    ++stats_.ae_sessions_timed_out;
    retry.push_back(fill_->peer);
    fill_.reset();
  }
  for (const auto& failed : retry) {
    std::string other = RandomLivePeer(failed);
    if (!other.empty()) StartWith(now_ms, other, out);
  }
  // The checks after a fill wait for its last chunks to be staged: the
  // tree takes a change when its batch is staged, and a root sent before
  // would show the newest segments as differing (at most a second, should
  // client writes keep the batch from ever being empty at a tick).
  if (!fill_ && !after_fill_.empty() &&
      (store_.batch().size() == 0 || now_ms - fill_ended_ms_ >= 1000)) {
    for (const auto& peer : std::exchange(after_fill_, {}))
      StartWith(now_ms, peer, out);
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
  if (fill_) {  // being filled: that stream first, then this session
    if (address != fill_->peer) after_fill_.insert(address);
    return;
  }
  uint64_t id = random_.Next64();
  sessions_[id] = Session{address, now_ms, true};
  ++stats_.ae_sessions_started;
  const std::string peer_id = membership_.IdAt(address);
  if (!peer_id.empty()) stats_.ae_last_session_ms[peer_id] = now_ms;
  pb::PeerMessage m = RootMessage(address, id);
  auto* level = m.mutable_ae_tree_level();
  if (WantsFill(0)) {  // empty, or a fill was cut short
    level->set_fill(true);
    level->set_fill_from(store_.batch().member_record().fill_next.value_or(0));
    TakeFill(address, id);
  }
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
  it->second.answered = true;
  if (fill_ && fill_->session == session) fill_->last_ms = now_ms;
  if (fill_ && fill_->session != session &&
      message.body_case() == pb::PeerMessage::kAeTreeLevel &&
      message.ae_tree_level().level() == 0) {
    Decline(reply_to, session);  // one stream at a time fills this node
    Release(now_ms, out);
    return;
  }
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
      OnInSync(reply_to, message.ae_in_sync());
      break;
    default:
      break;
  }
  Release(now_ms, out);
}

void AntiEntropy::OnTreeLevel(const std::string& peer,
                              const pb::AeTreeLevel& in) {
  const MerkleTree& tree = TreeFor(peer);
  const uint32_t level = in.level();
  if (level == 0 &&
      (in.segment_bits() != static_cast<uint32_t>(tree.shape().segment_bits) ||
       in.fanout_bits() != static_cast<uint32_t>(tree.shape().fanout_bits))) {
    sessions_.erase(in.session());  // another tree shape: cannot compare
    return;
  }
  // The nodes named: the root, or every child of each listed parent.
  const uint32_t fanout = 1u << tree.shape().fanout_bits;
  std::vector<uint32_t> indices;
  if (level == 0) {
    indices.push_back(0);
  } else if (level <= static_cast<uint32_t>(tree.depth())) {
    for (uint32_t parent : in.parents()) {
      if (parent >= tree.NodesAt(static_cast<int>(level) - 1)) break;
      for (uint32_t c = 0; c < fanout; ++c)
        indices.push_back(parent * fanout + c);
    }
  }
  if (level > static_cast<uint32_t>(tree.depth()) ||
      indices.size() != static_cast<size_t>(in.hashes_size())) {
    sessions_.erase(in.session());  // malformed: drop the session
    return;
  }
  ++stats_.ae_rounds;
  std::vector<uint32_t> differing;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (tree.Node(static_cast<int>(level), indices[i]) !=
        in.hashes(static_cast<int>(i))) {
      differing.push_back(indices[i]);
    }
  }
  if (level == static_cast<uint32_t>(tree.depth()))
    stats_.ae_segments_compared += indices.size();
  if (fill_ && fill_->session == in.session() && level > 0) {
    // The peer descends rather than fill this node (it holds fewer keys):
    // this session repairs what the fill would have.
    fill_.reset();
    EndFill();
  }
  if (level == 0 && !differing.empty()) {
    // One side is empty or far behind (a new, wiped or long-gone node):
    // descending would find most segments differ. Stream instead.
    // A node itself half filled is no copy to fill from: with it, the
    // session descends as an ordinary one.
    const uint64_t ours = store_.key_count();
    const bool partial = PartlyFilled();
    if (ours > 0 && in.fill() && ours >= in.key_count() && !partial) {
      ++stats_.ae_sessions_repaired;
      StreamAll(peer, in.session(), in.fill_from());
      return;
    }
    if (ours > 0 && !in.fill() && in.key_count() * 10 < ours && !in.answer() &&
        !partial) {
      // The peer is far behind, and may be asking several members at once:
      // it chooses one to fill it. Our root and key count tell it.
      pb::PeerMessage m = RootMessage(peer, in.session());
      m.mutable_ae_tree_level()->set_answer(true);
      Queue(peer, std::move(m));
      return;
    }
    if (!in.fill() && in.key_count() > 0 && WantsFill(in.key_count())) {
      ++stats_.ae_sessions_repaired;
      TakeFill(peer, in.session());
      pb::PeerMessage m = NewMessage();
      auto* ask = m.mutable_ae_key_hashes();
      ask->set_session(in.session());
      ask->set_all_segments(true);
      ask->set_fill_from(store_.batch().member_record().fill_next.value_or(0));
      Queue(peer, std::move(m));
      return;
    }
  }
  if (differing.empty()) {
    // Below the root this settles only the nodes this message named (the
    // level may have come in several messages): the session then ends when
    // it falls quiet.
    if (level > 0) return;
    pb::PeerMessage m = NewMessage();
    m.mutable_ae_in_sync()->set_session(in.session());
    Queue(peer, std::move(m));
    ++stats_.ae_sessions_in_sync;
    NoteInSync(peer);
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
      if (!Shares(peer, segment)) continue;
      auto* hashes = m.mutable_ae_key_hashes();
      hashes->add_segments(segment);
      bytes += 5;
      Status s =
          store_.ScanSegment(segment, [&](std::string_view key, uint64_t hash) {
            hashes->add_key_hashes(Hash64(key));
            hashes->add_entry_hashes(hash);
            bytes += 16;
          });
      (void)s;
      if (bytes >= options_.max_message_bytes) flush();
    }
    flush();
    return;
  }
  // Our hashes for the children of every differing node, one level down,
  // in as many messages as the bound needs: each names its own parents, so
  // the peer answers each on its own.
  const size_t per_parent = 5 + 8 * size_t{fanout};
  pb::PeerMessage m;
  size_t bytes = 0;
  for (uint32_t index : differing) {
    if (bytes > 0 && bytes + per_parent > options_.max_message_bytes) {
      Queue(peer, std::move(m));
      bytes = 0;
    }
    if (bytes == 0) {
      m = NewMessage();
      m.mutable_ae_tree_level()->set_session(in.session());
      m.mutable_ae_tree_level()->set_level(level + 1);
    }
    auto* out = m.mutable_ae_tree_level();
    out->add_parents(index);
    for (uint64_t child : tree.Children(static_cast<int>(level), index))
      out->add_hashes(child);
    bytes += per_parent;
  }
  Queue(peer, std::move(m));
}

void AntiEntropy::OnKeyHashes(const std::string& peer,
                              const pb::AeKeyHashes& in) {
  if (in.all_segments()) {  // the peer asks to be filled
    if (fill_ && fill_->session == in.session()) fill_.reset();
    if (PartlyFilled()) {
      Decline(peer, in.session());  // no copy to fill from (see above)
      return;
    }
    StreamAll(peer, in.session(), in.fill_from());
    return;
  }
  if (in.key_hashes_size() != in.entry_hashes_size()) return;
  std::unordered_map<uint64_t, uint64_t> theirs;  // XXH3(key) -> entry hash
  theirs.reserve(in.key_hashes_size());
  // Only keys of segments both own: the peer's ring may differ from ours.
  const MerkleTree& tree = store_.tree();
  for (int i = 0; i < in.key_hashes_size(); ++i) {
    if (Shares(peer, tree.SegmentOfHash(in.key_hashes(i))))
      theirs.emplace(in.key_hashes(i), in.entry_hashes(i));
  }
  std::unordered_map<uint64_t, uint64_t> ours;
  std::vector<std::string> send;
  std::vector<uint64_t> wanted;
  for (uint32_t segment : in.segments()) {
    if (segment >= store_.tree().shape().segment_count() ||
        !Shares(peer, segment))
      continue;
    Status s =
        store_.ScanSegment(segment, [&](std::string_view key, uint64_t hash) {
          const uint64_t key_hash = Hash64(key);
          ours.emplace(key_hash, hash);
          if (!theirs.count(key_hash)) send.emplace_back(key);
        });
    (void)s;
  }
  // Keys both hold, but differently, come to us; after merging we send back
  // whatever the peer still lacks.
  for (const auto& [key_hash, entry_hash] : theirs) {
    auto it = ours.find(key_hash);
    if (it == ours.end() || it->second != entry_hash)
      wanted.push_back(key_hash);
  }
  std::sort(wanted.begin(), wanted.end());  // a deterministic order
  ++stats_.ae_sessions_repaired;
  SendEntries(peer, in.session(), send, wanted, false, true);
}

void AntiEntropy::OnEntries(const std::string& peer, const pb::AeEntries& in) {
  WriteSet& set = store_.batch();
  std::vector<std::string> push_back;  // merged entries the peer still lacks
  pb::PeerMessage graves = NewMessage();
  graves.mutable_ae_entries()->set_session(in.session());
  for (const auto& e : in.entries()) {
    stats_.ae_entry_bytes_received += e.entry().size();
    auto entry = DecodeEntry(e.entry());
    if (!entry) {
      ++stats_.bad_entries;
      continue;
    }
    if (options_.tombstone_gc && entry->AllTombstones()) {
      auto local = set.Read(e.key());
      if (local && !local->has_value()) {
        ++stats_.ae_tombstones_declined;
        continue;
      }
    }
    auto changed = set.Merge(e.key(), *entry, kRepair);
    if (!changed) {
      ++stats_.bad_entries;
      continue;
    }
    if (*changed) ++stats_.ae_keys_pulled;
    if (!*changed && !entry->AllTombstones()) {
      // A value this node deleted and collected: the peer missed the
      // deletion (it was away, or left and came back). Send it the grave.
      if (const Entry* grave = set.GraveOf(e.key())) {
        auto* back = graves.mutable_ae_entries()->add_entries();
        back->set_key(e.key());
        back->set_entry(EncodeEntry(*grave));
        ++stats_.ae_graves_sent;
      }
    }
    if (in.reply()) {
      auto merged = set.Read(e.key());
      if (merged && merged->has_value() && EncodeEntry(**merged) != e.entry()) {
        push_back.push_back(e.key());
      }
    }
  }
  if (in.wanted_size() > 0) {
    // Wanted keys come as XXH3(key); the hash's top bits are the segment,
    // so one scan of each such segment finds them.
    std::unordered_map<uint64_t, bool> want;
    std::vector<uint32_t> segments;
    for (uint64_t h : in.wanted()) {
      want.emplace(h, true);
      segments.push_back(store_.tree().SegmentOfHash(h));
    }
    std::sort(segments.begin(), segments.end());
    segments.erase(std::unique(segments.begin(), segments.end()),
                   segments.end());
    std::vector<std::string> keys;
    for (uint32_t segment : segments) {
      Status s =
          store_.ScanSegment(segment, [&](std::string_view key, uint64_t) {
            if (want.count(Hash64(key))) keys.emplace_back(key);
          });
      (void)s;
    }
    SendEntries(peer, in.session(), keys, {}, true);
  }
  if (!push_back.empty()) SendEntries(peer, in.session(), push_back, {}, false);
  if (graves.ae_entries().entries_size() > 0) Queue(peer, std::move(graves));
  if (in.stream()) OnStreamChunk(peer, in);
}

void AntiEntropy::SendEntries(const std::string& peer, uint64_t session,
                              const std::vector<std::string>& keys,
                              const std::vector<uint64_t>& wanted, bool reply,
                              bool peer_lacks,
                              std::optional<uint32_t> stream_from) {
  pb::PeerMessage m;
  auto start = [&] {
    m = NewMessage();
    auto* entries = m.mutable_ae_entries();
    entries->set_session(session);
    entries->set_reply(reply);
    if (stream_from) {
      entries->set_stream(true);
      entries->set_from_segment(*stream_from);
      entries->set_next_segment(*stream_from);
    }
  };
  start();
  size_t bytes = 0;
  for (uint64_t w : wanted) {
    m.mutable_ae_entries()->add_wanted(w);
    bytes += 8;
  }
  for (const auto& key : keys) {
    auto entry = store_.Get(key);
    if (!entry || !entry->has_value())
      continue;  // unreadable here: the peer keeps its own
    if (peer_lacks && options_.tombstone_gc && (*entry)->AllTombstones())
      continue;
    std::string encoded = EncodeEntry(**entry);
    if (bytes > 0 &&
        bytes + encoded.size() + key.size() > options_.max_message_bytes) {
      Queue(peer, std::move(m));
      start();
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

}  // namespace gossipkv
