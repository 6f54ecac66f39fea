// HintedHandoff: hint records in, batches out to owners that are back.
#include "replication/hinted_handoff.h"

#include <algorithm>

#include "replication/coordinator.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {

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
  AppendBigEndian32(prefix, static_cast<uint32_t>(owner.size()));
  prefix += owner;
  return prefix;
}

std::string HintedHandoff::HintKey(const std::string& owner, uint32_t partition,
                                   const std::string& key) {
  std::string hint = OwnerPrefix(owner);
  AppendBigEndian32(hint, partition);
  hint += key;
  return hint;
}

bool HintedHandoff::HoldsPartition(uint32_t partition) const {
  for (const auto& [id, owner] : owners_) {
    std::string prefix = OwnerPrefix(id);
    AppendBigEndian32(prefix, partition);
    auto it = owner.sizes.lower_bound(prefix);
    if (it != owner.sizes.end() && it->first.starts_with(prefix)) return true;
  }
  return false;
}

void HintedHandoff::Reload() {
  for (auto& [id, owner] : owners_) {
    owner.sizes.clear();
    owner.bytes = 0;
  }
  // A record whose key does not parse is left alone: no owner claims it.
  Status scanned = store_.engine().Scan(
      Column::kHints, "", "",
      [&](std::string_view key, std::string_view value) {
        if (key.size() < 4) return true;
        const uint32_t length = ReadBigEndian32(key);
        if (key.size() < 8 + static_cast<size_t>(length)) return true;
        Owner& owner = owners_[std::string(key.substr(4, length))];
        const uint64_t size = key.size() + value.size();
        owner.sizes[std::string(key)] = size;
        owner.bytes += size;
        return true;
      });
  (void)scanned;  // unreadable hints stay uncounted; anti-entropy repairs
}

void HintedHandoff::Erase(Owner& owner, const std::string& hint) {
  auto it = owner.sizes.find(hint);
  if (it == owner.sizes.end()) return;
  owner.bytes -= it->second;
  owner.sizes.erase(it);
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
  if (*stored) {
    if (auto prior = DecodeEntry(**stored))
      joined = Merge(*prior, entry, store_.options().conflict_mode);
  }
  std::string encoded = EncodeEntry(joined);
  const uint64_t after = hint.size() + encoded.size();
  Owner& o = owners_[owner];
  auto it = o.sizes.find(hint);
  const uint64_t before = it == o.sizes.end() ? 0 : it->second;
  if (o.bytes - before + after > options_.max_hint_bytes_per_owner) {
    ++stats_.hints_dropped;
    return false;
  }
  o.bytes = o.bytes - before + after;
  o.sizes[hint] = after;
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
    // Gone for good, or never heard of again since this node restarted
    // (it left meanwhile): nobody to hand off to.
    if (membership_.IsForgotten(id) || !membership_.Knows(id) ||
        membership_.LivenessOf(id) == Liveness::kLeft) {
      if (DropSome(owner)) {
        it = owners_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    // (An ack still owed for `previous` finds nothing to delete.)
    if (owner.sizes.empty() && owner.in_flight.request == 0) {
      it = owners_.erase(it);
      continue;
    }
    if (now_ms < owner.retry_ms) {  // answer awaited, or refused lately
      ++it;
      continue;
    }
    if (owner.in_flight.request != 0) {
      // Unanswered: its ack may still come, the next batch starts over.
      owner.previous = std::move(owner.in_flight);
      owner.in_flight = Batch{};
    }
    if (tokens_ > 0 && membership_.LivenessOf(id) == Liveness::kAlive &&
        !membership_.AddressOf(id).empty() && Replay(id, owner, next_id, out)) {
      owner.in_flight.request = next_id++;
      owner.retry_ms = now_ms + options_.request_timeout_ms;
    }
    ++it;
  }
}

bool HintedHandoff::Replay(const std::string& id, Owner& owner,
                           uint64_t request, Outbox& out) {
  WriteSet& set = store_.batch();
  pb::PeerMessage message;
  message.set_from(membership_.self().node_id());
  auto* write = message.mutable_replica_write();
  write->set_request(request);
  Batch batch;
  size_t bytes = 0;
  std::vector<std::string> gone;  // collected here, or corrupt
  const size_t prefix = OwnerPrefix(id).size() + 4;
  size_t looked = 0;  // at most kDropPerTick hints read per batch
  for (const auto& [hint, size] : owner.sizes) {
    if (++looked > kDropPerTick) break;
    auto value = set.ReadHint(hint);
    if (!value) continue;  // unreadable now: kept for the next batch
    if (!*value) {
      gone.push_back(hint);
      continue;
    }
    const std::string key = hint.substr(prefix);
    auto current = store_.Get(key);
    if (!current) continue;
    if (!current->has_value() || !DecodeEntry(**value)) {
      // Its tombstone was collected here (or the hint is corrupt):
      // nothing to hand off.
      set.SetHint(hint, std::nullopt);
      gone.push_back(hint);
      ++stats_.hints_dropped;
      continue;
    }
    std::string encoded = EncodeEntry(**current);
    const size_t more = key.size() + encoded.size() + 16;
    if (!batch.sent.empty() && bytes + more > options_.max_message_bytes) break;
    bytes += more;
    pb::KeyEntry* e = write->add_entries();
    e->set_key(key);
    e->set_entry(std::move(encoded));
    batch.sent.emplace_back(hint, std::move(**value));
  }
  for (const auto& hint : gone) Erase(owner, hint);
  if (batch.sent.empty()) return false;
  tokens_ -= static_cast<double>(bytes);
  ++stats_.hint_replays_sent;
  stats_.hint_bytes_replayed += bytes;
  out.push_back({membership_.AddressOf(id), std::move(message)});
  owner.in_flight = std::move(batch);
  return true;
}

bool HintedHandoff::DropSome(Owner& owner) {
  WriteSet& set = store_.batch();
  size_t dropped = 0;
  while (!owner.sizes.empty() && dropped < kDropPerTick) {
    set.SetHint(owner.sizes.begin()->first, std::nullopt);
    Erase(owner, std::string(owner.sizes.begin()->first));
    ++dropped;
  }
  stats_.hints_dropped += dropped;
  return owner.sizes.empty();
}

void HintedHandoff::Delivered(Owner& owner, const Batch& batch) {
  WriteSet& set = store_.batch();
  for (const auto& [hint, value] : batch.sent) {
    auto now = set.ReadHint(hint);
    if (!now || !*now || **now != value) continue;  // grew since: resent
    set.SetHint(hint, std::nullopt);
    Erase(owner, hint);
    ++stats_.hints_delivered;
  }
}

bool HintedHandoff::HandleAck(const pb::PeerMessage& message) {
  const uint64_t request = message.replica_ack().request();
  if (request == 0) return false;
  for (auto& [id, owner] : owners_) {
    Batch* batch = owner.in_flight.request == request  ? &owner.in_flight
                   : owner.previous.request == request ? &owner.previous
                                                       : nullptr;
    if (batch == nullptr) continue;
    // Only the owner the batch went to answers for it.
    if (message.from() != id) return true;
    if (message.replica_ack().ok()) {
      Delivered(owner, *batch);
      // The next batch may go at once; a refused one waits out retry_ms.
      if (batch == &owner.in_flight) owner.retry_ms = 0;
    }
    *batch = Batch{};
    return true;
  }
  return false;
}

uint64_t HintedHandoff::hint_count() const {
  uint64_t n = 0;
  for (const auto& [id, owner] : owners_) n += owner.sizes.size();
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
    if (!owner.sizes.empty()) ids.push_back(id);
  return ids;
}

}  // namespace gossipkv
