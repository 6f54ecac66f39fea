// RumorMonger: queue by hop count, send in bounded batches, merge on receipt.
#include "replication/rumor.h"

#include <cmath>

#include "versioning/entry_codec.h"

namespace gossipkv {

RumorMonger::RumorMonger(VersionedStore& store, const Membership& membership,
                         Random& random, RumorOptions options,
                         ReplicationStats& stats, PartitionScope* scope)
    : store_(store),
      membership_(membership),
      random_(random),
      options_(options),
      stats_(stats),
      scope_(scope) {}

uint32_t RumorMonger::HopLimit() const {
  return 1 + static_cast<uint32_t>(std::ceil(
                 std::log2(std::max<size_t>(2, membership_.alive_count()))));
}

void RumorMonger::Enqueue(std::string_view key, std::string_view encoded_entry,
                          uint32_t hops) {
  if (hops > HopLimit() || membership_.alive_count() <= 1) return;
  pb::KeyEntry e;
  e.set_key(std::string(key));
  e.set_entry(std::string(encoded_entry));
  if (hops > 0) ++stats_.rumor_entries_forwarded;
  queued_[hops].push_back(std::move(e));
}

void RumorMonger::Send(const std::string& to, pb::PeerMessage& m, Outbox& out) {
  ++stats_.rumor_messages_sent;
  stats_.rumor_bytes_sent += m.ByteSizeLong();
  out.push_back({to, m});
}

void RumorMonger::FlushToOwners(Outbox& out) {
  // Per owner, the message being filled; shipped at the bound.
  std::map<std::string, std::pair<pb::PeerMessage, size_t>> open;
  auto ship = [&](const std::string& to) {
    auto it = open.find(to);
    if (it == open.end()) return;
    Send(to, it->second.first, out);
    open.erase(it);
  };
  for (auto& [hops, entries] : queued_) {
    for (auto& e : entries) {
      const size_t size = e.ByteSizeLong() + 4;
      for (const auto& to : scope_->LiveOtherOwners(e.key())) {
        auto it = open.find(to);
        if (it != open.end() &&
            it->second.second + size > options_.max_message_bytes) {
          ship(to);
          it = open.end();
        }
        if (it == open.end()) {
          it = open.try_emplace(to).first;
          it->second.first.set_from(membership_.self().node_id());
          it->second.first.mutable_rumor()->set_reached_all(true);
        }
        *it->second.first.mutable_rumor()->add_entries() = e;
        it->second.second += size;
      }
    }
  }
  while (!open.empty()) ship(open.begin()->first);
  queued_.clear();
}

void RumorMonger::Flush(Outbox& out) {
  if (queued_.empty()) return;
  if (scope_ != nullptr && scope_->Partial()) {
    FlushToOwners(out);
    return;
  }
  std::vector<std::string> peers = membership_.LivePeerAddresses();
  // `fanout` distinct random peers for this flush.
  for (size_t i = 0; i < peers.size() && i < options_.fanout; ++i) {
    std::swap(peers[i], peers[i + random_.Uniform(peers.size() - i)]);
  }
  const bool reached_all = peers.size() <= options_.fanout;
  if (peers.size() > options_.fanout) peers.resize(options_.fanout);
  for (auto& [hops, entries] : queued_) {
    size_t i = 0;
    while (i < entries.size()) {
      pb::PeerMessage m;
      m.set_from(membership_.self().node_id());
      auto* rumor = m.mutable_rumor();
      rumor->set_hops(hops);
      rumor->set_reached_all(reached_all);
      size_t bytes = 0;
      // Many writes per message, up to the message bound (at least one).
      while (i < entries.size() &&
             (bytes == 0 || bytes + entries[i].ByteSizeLong() <=
                                options_.max_message_bytes)) {
        bytes += entries[i].ByteSizeLong() + 4;
        *rumor->add_entries() = std::move(entries[i++]);
      }
      for (const auto& peer : peers) Send(peer, m, out);
    }
  }
  queued_.clear();
}

void RumorMonger::Handle(const pb::PeerMessage& message) {
  const pb::Rumor& rumor = message.rumor();
  ++stats_.rumor_messages_received;
  stats_.rumor_bytes_received += message.ByteSizeLong();
  // What changes here is forwarded with one more hop, unless the sender
  // already reached everyone (then only anti-entropy would need it).
  const int hops =
      rumor.reached_all()
          ? kRepair
          : static_cast<int>(std::min<uint32_t>(rumor.hops(), 1000)) + 1;
  WriteSet& set = store_.batch();
  for (const auto& e : rumor.entries()) {
    auto entry = DecodeEntry(e.entry());
    if (!entry) {
      ++stats_.bad_entries;
      continue;
    }
    auto changed = set.Merge(e.key(), *entry, hops);
    if (!changed) {
      ++stats_.bad_entries;
    } else if (*changed) {
      ++stats_.rumor_entries_new;
    } else {
      ++stats_.rumor_entries_duplicate;
    }
  }
}

}  // namespace gossipkv
