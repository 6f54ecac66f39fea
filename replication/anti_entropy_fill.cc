// AntiEntropy's fills: one stream of the store from a cursor to a node that
// is empty or far behind, the cursor that node stores, and the sessions it
// declines meanwhile.
#include <algorithm>
#include <iterator>

#include "replication/anti_entropy.h"

namespace gossipkv {

bool AntiEntropy::WantsFill(uint64_t peer_keys) const {
  const uint64_t ours = store_.key_count();
  return ours == 0 || store_.batch().member_record().fill_next.has_value() ||
         ours * 10 < peer_keys;
}

int64_t AntiEntropy::FillStallMs() const {
  const uint64_t rate = std::max<uint64_t>(1, options_.bytes_per_second);
  const auto budget_ms = static_cast<int64_t>(
      4 * 1000 * uint64_t{options_.max_message_bytes} / rate);
  return std::max(options_.session_timeout_ms / 4, budget_ms);
}

bool AntiEntropy::PartlyFilled() const {
  return fill_.has_value() ||
         store_.batch().member_record().fill_next.has_value();
}

void AntiEntropy::TakeFill(const std::string& peer, uint64_t session) {
  fill_ = Fill{peer, session, now_ms_};
  fill_ranges_.clear();
  fill_parts_.clear();
}

void AntiEntropy::EndFill() {
  WriteSet& set = store_.batch();
  if (!set.member_record().fill_next) return;
  MemberRecord record = set.member_record();
  record.fill_next.reset();
  set.SetMemberRecord(std::move(record));
}

void AntiEntropy::OnStreamChunk(const std::string& peer,
                                const pb::AeEntries& chunk) {
  if (!fill_ || fill_->session != chunk.session()) {
    // Not the stream this node asked for (another fills it, or one from
    // before a restart): its entries are merged all the same, and the
    // stream is stopped.
    if (!chunk.stream_end()) Decline(peer, chunk.session());
    return;
  }
  if (chunk.stream_end()) {
    fill_ended_ms_ = now_ms_;
    fill_.reset();
    EndFill();
    ++stats_.ae_fills_finished;
    after_fill_.insert(peer);  // the check: writes made meanwhile, lost chunks
    return;
  }
  // A chunk counts once every message of it is here; the cursor moves
  // only over contiguous counted chunks. One still in transit, or lost,
  // holds it where the gap begins, for a resumed fill to send again.
  WriteSet& set = store_.batch();
  const uint32_t stored = set.member_record().fill_next.value_or(0);
  const uint32_t from = chunk.from_segment();
  if (from < stored) return;  // a chunk counted already (a duplicate)
  FillPart& part = fill_parts_[from];
  part.indices.insert(chunk.chunk_index());
  if (chunk.next_segment() > from) part.next = chunk.next_segment();
  if (part.next > from && part.indices.size() >= chunk.chunk_messages()) {
    fill_ranges_[from] = std::max(fill_ranges_[from], part.next);
    fill_parts_.erase(from);
  }
  uint32_t cursor = stored;
  while (!fill_ranges_.empty() && fill_ranges_.begin()->first <= cursor) {
    cursor = std::max(cursor, fill_ranges_.begin()->second);
    fill_ranges_.erase(fill_ranges_.begin());
  }
  // Chunks past a gap wait for it; a stream has only a few chunks in
  // flight, so more means the gap is lost: the check session repairs it.
  while (fill_ranges_.size() > kMaxFillRanges)
    fill_ranges_.erase(std::prev(fill_ranges_.end()));
  while (fill_parts_.size() > kMaxFillRanges)
    fill_parts_.erase(std::prev(fill_parts_.end()));
  if (cursor == stored && set.member_record().fill_next) return;
  MemberRecord record = set.member_record();
  record.fill_next = cursor;
  set.SetMemberRecord(std::move(record));
}

void AntiEntropy::Decline(const std::string& peer, uint64_t session) {
  ++stats_.ae_sessions_declined;
  after_fill_.insert(peer);
  sessions_.erase(session);
  pb::PeerMessage m = NewMessage();
  m.mutable_ae_in_sync()->set_session(session);
  m.mutable_ae_in_sync()->set_busy(true);
  Queue(peer, std::move(m));
}

void AntiEntropy::NoteInSync(const std::string& peer) {
  const std::string peer_id = membership_.IdAt(peer);
  if (!peer_id.empty()) stats_.ae_last_in_sync_ms[peer_id] = now_ms_;
}

void AntiEntropy::OnInSync(const std::string& peer, const pb::AeInSync& in) {
  if (in.busy()) {
    const size_t before = streams_.size();
    std::erase_if(streams_,
                  [&](const Stream& st) { return st.session == in.session(); });
    stats_.ae_streams_cancelled += before - streams_.size();
  } else {
    ++stats_.ae_sessions_in_sync;
    NoteInSync(peer);
  }
  if (fill_ && fill_->session == in.session()) {
    fill_.reset();
    if (!in.busy()) EndFill();  // in sync: nothing is left to fill
  }
  sessions_.erase(in.session());
}

void AntiEntropy::StreamAll(const std::string& peer, uint64_t session,
                            uint32_t from) {
  from = std::min(from, store_.tree().shape().segment_count());
  for (auto& st : streams_) {
    if (st.peer == peer) {  // one stream per peer: restart it in this session
      st = Stream{peer, session, from};
      return;
    }
  }
  streams_.push_back(Stream{peer, session, from});
  ++stats_.ae_streams_started;
}

bool AntiEntropy::AdvanceStream() {
  // The first stream, round robin, whose peer has room: fewer than
  // kStreamAhead of its messages waiting here, and a full message's room
  // on its link. A stalled peer holds back only its own stream.
  std::optional<Stream> next;
  for (size_t left = streams_.size(); left > 0 && !next; --left) {
    Stream st = std::move(streams_.front());
    streams_.pop_front();
    if (!membership_.IdAt(st.peer).empty() && !IsLive(st.peer)) {
      // A member that is down (a joiner not yet heard of is streamed to):
      // its fill resumes from its cursor.
      ++stats_.ae_streams_cancelled;
      continue;
    }
    const auto waiting =
        std::count_if(queue_.begin(), queue_.end(),
                      [&](const Outgoing& o) { return o.to == st.peer; });
    if (static_cast<size_t>(waiting) >= kStreamAhead ||
        (options_.link_free_bytes &&
         options_.link_free_bytes(st.peer) < options_.max_message_bytes)) {
      streams_.push_back(std::move(st));  // no room: later
      continue;
    }
    next = std::move(st);
  }
  if (!next) return false;
  Stream st = std::move(*next);
  // Whole segments, up to about one message of keys.
  const uint32_t from = st.next_segment;
  std::vector<std::string> keys;
  size_t key_bytes = 0;
  const uint32_t segments = store_.tree().shape().segment_count();
  // Under partitioned storage, only the segments both own.
  const std::vector<bool>* shared =
      scope_ != nullptr ? scope_->SharedWith(st.peer) : nullptr;
  while (st.next_segment < segments && keys.size() < kStreamChunkKeys &&
         key_bytes < options_.max_message_bytes) {
    if (shared != nullptr && !(*shared)[st.next_segment]) {
      ++st.next_segment;
      continue;
    }
    Status s = store_.ScanSegment(st.next_segment,
                                  [&](std::string_view key, uint64_t) {
                                    keys.emplace_back(key);
                                    key_bytes += key.size() + 64;
                                  });
    (void)s;
    ++st.next_segment;
  }
  const size_t queued = queue_.size();
  if (!keys.empty())
    SendEntries(st.peer, st.session, keys, {}, false, true, from);
  if (queue_.size() == queued) {
    pb::PeerMessage m = NewMessage();
    m.mutable_ae_entries()->set_session(st.session);
    m.mutable_ae_entries()->set_stream(true);
    m.mutable_ae_entries()->set_from_segment(from);
    Queue(st.peer, std::move(m));
  }
  // Numbered, and the last carries how far the chunk reaches.
  const size_t messages = queue_.size() - queued;
  for (size_t i = 0; i < messages; ++i) {
    auto* entries = queue_[queued + i].message.mutable_ae_entries();
    entries->set_chunk_index(static_cast<uint32_t>(i));
    entries->set_chunk_messages(static_cast<uint32_t>(messages));
  }
  queue_.back().message.mutable_ae_entries()->set_next_segment(st.next_segment);
  auto it = sessions_.find(st.session);
  if (it != sessions_.end()) it->second.last_activity_ms = now_ms_;
  if (st.next_segment < segments) {
    streams_.push_back(std::move(st));
  } else {
    pb::PeerMessage end = NewMessage();
    end.mutable_ae_entries()->set_session(st.session);
    end.mutable_ae_entries()->set_stream(true);
    end.mutable_ae_entries()->set_stream_end(true);
    end.mutable_ae_entries()->set_from_segment(segments);
    end.mutable_ae_entries()->set_next_segment(segments);
    Queue(st.peer, std::move(end));
    ++stats_.ae_streams_finished;
  }
  return true;
}

}  // namespace gossipkv
