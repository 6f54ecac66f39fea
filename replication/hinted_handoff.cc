// HintedHandoff: hint records in, batches out to owners that are back.
#include "replication/hinted_handoff.h"

#include <algorithm>

#include "replication/coordinator.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

void AppendBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t ReadBe32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

HintedHandoff::HintedHandoff(VersionedStore& store, Membership& membership,
                             const CoordinatorOptions& options,
                             ReplicationStats& stats, int64_t now_ms)
    : store_(store),
      membership_(membership),
      options_(options),
      stats_(stats),
      tokens_(0),
      refilled_ms_(now_ms) {
  Reload();
}

std::string HintedHandoff::OwnerPrefix(const std::string& owner) {
  std::string prefix;
  prefix.reserve(4 + owner.size());
  AppendBe32(prefix, static_cast<uint32_t>(owner.size()));
  prefix += owner;
  return prefix;
}

std::string HintedHandoff::HintKey(const std::string& owner, uint32_t partition,
                                   const std::string& key) {
  std::string hint = OwnerPrefix(owner);
  AppendBe32(hint, partition);
  hint += key;
  return hint;
}

void HintedHandoff::Reload() {
  for (auto& [id, owner] : owners_) owner.count = owner.bytes = 0;
  // A record whose key does not parse is left alone: no owner claims it.
  Status scanned = store_.engine().Scan(
      Column::kHints, "", "",
      [&](std::string_view key, std::string_view value) {
        if (key.size() < 4) return true;
        const uint32_t length = ReadBe32(key);
        if (key.size() < 8 + static_cast<size_t>(length)) return true;
        Owner& owner = owners_[std::string(key.substr(4, length))];
        ++owner.count;
        owner.bytes += key.size() + value.size();
        return true;
      });
  (void)scanned;  // unreadable hints stay uncounted; anti-entropy repairs
}

bool HintedHandoff::Accept(const std::string& owner, uint32_t partition,
                           const std::string& key, const Entry& entry) {
  if (owner == membership_.self().node_id() || !membership_.Knows(owner) ||
      membership_.IsForgotten(owner) ||
      membership_.LivenessOf(owner) == Liveness::kLeft) {
    return false;
  }
  WriteSet& set = store_.batch();
  const std::string hint = HintKey(owner, partition, key);
  auto stored = set.ReadHint(hint);
  if (!stored) return false;
  Entry joined = entry;
  uint64_t before = 0;
  if (*stored) {
    before = hint.size() + (*stored)->size();
    if (auto prior = DecodeEntry(**stored))
      joined = Merge(*prior, entry, store_.options().conflict_mode);
  }
  std::string encoded = EncodeEntry(joined);
  const uint64_t after = hint.size() + encoded.size();
  Owner& o = owners_[owner];
  const uint64_t others = o.bytes > before ? o.bytes - before : 0;
  if (others + after > options_.max_hint_bytes_per_owner) {
    ++stats_.hints_dropped;
    return false;
  }
  o.bytes = others + after;
  if (!*stored) ++o.count;
  set.SetHint(hint, std::move(encoded));
  ++stats_.hints_stored;
  return true;
}

void HintedHandoff::Tick(int64_t now_ms, uint64_t& next_id, Outbox& out) {
  const double rate =
      static_cast<double>(options_.hint_replay_bytes_per_second);
  const double cap = std::max(rate, double(options_.max_message_bytes));
  tokens_ = std::min(
      cap, tokens_ + rate * static_cast<double>(now_ms - refilled_ms_) / 1000);
  refilled_ms_ = now_ms;
  for (auto it = owners_.begin(); it != owners_.end();) {
    auto& [id, owner] = *it;
    if (owner.count == 0 && owner.in_flight == 0) {
      it = owners_.erase(it);
      continue;
    }
    if (membership_.IsForgotten(id) ||
        membership_.LivenessOf(id) == Liveness::kLeft) {
      DropAll(id, owner);
      it = owners_.erase(it);
      continue;
    }
    if (owner.in_flight != 0 &&
        now_ms - owner.sent_ms < options_.request_timeout_ms) {
      ++it;
      continue;
    }
    owner.in_flight = 0;  // unanswered: the next batch starts over
    if (tokens_ > 0 && membership_.LivenessOf(id) == Liveness::kAlive &&
        !membership_.AddressOf(id).empty() &&
        Replay(now_ms, id, owner, next_id, out)) {
      owner.in_flight = next_id++;
      owner.sent_ms = now_ms;
    }
    ++it;
  }
}

bool HintedHandoff::Replay(int64_t now_ms, const std::string& id, Owner& owner,
                           uint64_t request, Outbox& out) {
  (void)now_ms;
  const std::string prefix = OwnerPrefix(id);
  std::vector<std::pair<std::string, std::string>> batch;
  size_t bytes = 0;
  Status scanned = store_.engine().ScanPrefix(
      Column::kHints, prefix,
      [&](std::string_view key, std::string_view value) {
        if (!batch.empty() && bytes >= options_.max_message_bytes) return false;
        if (key.size() < prefix.size() + 4) return true;
        batch.emplace_back(std::string(key), std::string(value));
        bytes += key.size() + value.size();
        return true;
      });
  if (!scanned.ok() || batch.empty()) return false;
  WriteSet& set = store_.batch();
  pb::PeerMessage message;
  message.set_from(membership_.self().node_id());
  auto* write = message.mutable_replica_write();
  write->set_request(request);
  owner.sent.clear();
  size_t sent_bytes = 0;
  for (auto& [hint, value] : batch) {
    const std::string key = hint.substr(prefix.size() + 4);
    auto current = store_.Get(key);
    if (!current) continue;  // unreadable now: kept for the next batch
    auto hinted = DecodeEntry(value);
    if (!hinted || !current->has_value()) {
      // Corrupt, or its tombstone was collected here: nothing to hand off.
      set.SetHint(hint, std::nullopt);
      Deleted(owner, hint.size() + value.size());
      ++stats_.hints_dropped;
      continue;
    }
    const std::string encoded =
        EncodeEntry(Merge(*hinted, **current, store_.options().conflict_mode));
    pb::KeyEntry* e = write->add_entries();
    e->set_key(key);
    e->set_entry(encoded);
    sent_bytes += key.size() + encoded.size();
    owner.sent.emplace_back(std::move(hint), std::move(value));
  }
  if (owner.sent.empty()) return false;
  tokens_ -= static_cast<double>(sent_bytes);
  ++stats_.hint_replays_sent;
  stats_.hint_bytes_replayed += sent_bytes;
  out.push_back({membership_.AddressOf(id), std::move(message)});
  return true;
}

void HintedHandoff::Deleted(Owner& owner, uint64_t bytes) {
  if (owner.count > 0) --owner.count;
  owner.bytes = owner.bytes > bytes ? owner.bytes - bytes : 0;
}

void HintedHandoff::DropAll(const std::string& id, Owner& owner) {
  WriteSet& set = store_.batch();
  Status scanned =
      store_.engine().ScanPrefix(Column::kHints, OwnerPrefix(id),
                                 [&](std::string_view key, std::string_view) {
                                   set.SetHint(std::string(key), std::nullopt);
                                   return true;
                                 });
  (void)scanned;  // what could not be read is dropped at the next start
  stats_.hints_dropped += owner.count;
}

bool HintedHandoff::HandleAck(const pb::PeerMessage& message) {
  const uint64_t request = message.replica_ack().request();
  if (request == 0) return false;
  for (auto& [id, owner] : owners_) {
    if (owner.in_flight != request) continue;
    // Only the owner the batch went to answers for it.
    if (message.from() != id) return true;
    owner.in_flight = 0;
    if (!message.replica_ack().ok()) return true;
    WriteSet& set = store_.batch();
    for (auto& [hint, value] : owner.sent) {
      auto now = set.ReadHint(hint);
      if (!now || !*now || **now != value) continue;  // grew since: resent
      set.SetHint(hint, std::nullopt);
      Deleted(owner, hint.size() + value.size());
      ++stats_.hints_delivered;
    }
    owner.sent.clear();
    return true;
  }
  return false;
}

uint64_t HintedHandoff::hint_count() const {
  uint64_t n = 0;
  for (const auto& [id, owner] : owners_) n += owner.count;
  return n;
}

uint64_t HintedHandoff::hint_bytes() const {
  uint64_t n = 0;
  for (const auto& [id, owner] : owners_) n += owner.bytes;
  return n;
}

std::vector<std::string> HintedHandoff::owners() const {
  std::vector<std::string> ids;
  for (const auto& [id, owner] : owners_)
    if (owner.count > 0) ids.push_back(id);
  return ids;
}

}  // namespace gossipkv
