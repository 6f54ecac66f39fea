// WriteSet: pending changes read through, then staged in one batch that
// moves the store's memory.
#include <fmt/format.h>

#include <algorithm>

#include "store/store_record.h"
#include "store/versioned_store.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {

using store_record::RecordValue;

Result<WriteSet::Pending*> WriteSet::Load(std::string_view key) {
  auto it = pending_.find(key);
  if (it != pending_.end()) return &it->second;
  auto stored = store_.Lookup(key);
  if (!stored) return stored.error();
  Pending pending;
  if (stored->entry) {
    pending.stored_hash = stored->hash;
    pending.stored_live = !stored->entry->IsDeleted();
    pending.entry = std::move(stored->entry);
  } else if (const Entry* grave = store_.graves_.Find(key)) {
    pending.grave = *grave;
    pending.had_grave = true;
  }
  return &pending_.emplace(std::string(key), std::move(pending)).first->second;
}

const MemberRecord& WriteSet::member_record() const {
  return record_ ? *record_ : store_.record_;
}

Result<std::optional<Entry>> WriteSet::Read(std::string_view key) {
  // Pure reads stay out of pending_, so Commit never re-encodes them.
  auto it = pending_.find(key);
  if (it != pending_.end()) return it->second.entry;
  return store_.Get(key);
}

Result<Entry> WriteSet::Write(std::string_view key,
                              std::optional<std::string_view> value,
                              const VersionVector* context) {
  GOSSIPKV_RETURN_IF_ERROR(CheckFits(key, value, context));
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (!p.entry && p.grave) {
    p.entry = std::move(p.grave);  // continue the collected clock
    p.grave.reset();
    p.collecting = p.adopting = false;
  } else if (!p.entry) {
    p.entry.emplace();
  }
  p.dropping = false;
  Apply(*p.entry, value, context);
  p.origin = kClientWrite;
  return *p.entry;
}

void WriteSet::Apply(Entry& entry, std::optional<std::string_view> value,
                     const VersionVector* context) {
  // Dots above the GC floor: without the key's grave, its entry (none, or
  // one taken from a peer since) may name less of this node than the dots
  // it already issued for the key. Under last-write-wins, a timestamp above
  // every deletion it collected or adopted, for the same reason.
  const GcState& gc = store_.gc_;
  if (entry.clock.Get(store_.self_) < gc.dot_floor)
    entry.clock.Set(store_.self_, gc.dot_floor);
  const VersionVector own_clock = entry.clock;
  const ConflictMode mode = store_.options_.conflict_mode;
  int64_t now_ms = store_.clock_.WallMillis();
  if (mode == ConflictMode::kLastWriteWins)
    now_ms = std::max(now_ms, gc.timestamp_floor + 1);
  ApplyWrite(entry, store_.self_, context ? *context : own_clock, value, now_ms,
             mode);
}

Status WriteSet::CheckFits(std::string_view key,
                           std::optional<std::string_view> value,
                           const VersionVector* context) {
  const size_t limit = store_.options_.max_entry_bytes;
  if (limit == 0) return Status::Ok();
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  const Pending& p = **loaded;
  const Entry* base = p.entry ? &*p.entry : p.grave ? &*p.grave : nullptr;
  // A bound on the encoded size first; encoding only when it is close.
  size_t bound = key.size() + (value ? value->size() : 0) + 256;
  if (base != nullptr) {
    for (const auto& [actor, counter] : base->clock.items())
      bound += actor.node.size() + 32;
    for (const auto& s : base->siblings)
      bound += s.dot.actor.node.size() + s.value.size() + 64;
  }
  if (bound <= limit) return Status::Ok();
  Entry candidate = base != nullptr ? *base : Entry{};
  Apply(candidate, value, context);
  const size_t size = key.size() + EncodeEntry(candidate).size();
  if (size <= limit) return Status::Ok();
  return Status::LimitExceeded(fmt::format(
      "the write would make an entry of {} bytes with {} sibling(s), over "
      "the {} a peer message can carry (replication.max_frame_bytes); "
      "resolve the siblings first (VGET, then VSET with its context)",
      size, candidate.siblings.size(), limit));
}

Result<bool> WriteSet::Merge(std::string_view key, const Entry& remote,
                             int origin) {
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  const ConflictMode mode = store_.options_.conflict_mode;
  // A collected key merges into its grave: a stale copy changes nothing.
  const Entry* base = p.entry ? &*p.entry : p.grave ? &*p.grave : nullptr;
  // Merging with itself normalises a remote entry to this node's mode.
  Entry merged = base ? gossipkv::Merge(*base, remote, mode)
                      : gossipkv::Merge(remote, remote, mode);
  if (base && merged == *base) return false;
  p.entry = std::move(merged);
  p.grave.reset();
  p.collecting = p.adopting = p.dropping = false;
  if (origin >= 0)
    p.origin = p.origin < 0 ? origin : std::min(p.origin, origin);
  return true;
}

Result<bool> WriteSet::Collect(std::string_view key, const Entry& expected) {
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (!p.stored_hash || !p.entry || *p.entry != expected ||
      !expected.AllTombstones()) {
    return false;
  }
  p.grave = std::move(p.entry);
  p.entry.reset();
  p.collecting = true;
  p.dropping = false;
  return true;
}

Result<bool> WriteSet::Drop(std::string_view key, uint64_t expected_hash) {
  if (pending_.contains(key)) return false;  // changing: later
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (!p.stored_hash || *p.stored_hash != expected_hash || !p.entry)
    return false;
  p.dropping = true;
  return true;
}

Result<WriteSet::Held> WriteSet::Peek(std::string_view key) {
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    const Pending& p = it->second;
    return Held{p.entry, p.entry || !p.grave ? nullptr : &*p.grave, true};
  }
  auto stored = store_.Lookup(key);
  if (!stored) return stored.error();
  const Entry* grave = stored->entry ? nullptr : store_.graves_.Find(key);
  return Held{std::move(stored->entry), grave, false};
}

Result<bool> WriteSet::Covers(std::string_view key, const Entry& tombstone) {
  auto held = Peek(key);
  if (!held) return held.error();
  const Entry* ours = held->entry ? &*held->entry : held->grave;
  if (ours && ours->clock.Descends(tombstone.clock)) return true;
  if (held->pending) return false;  // changing: ask later
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (p.entry || store_.options_.max_graves == 0) return false;
  p.grave = gossipkv::Merge(p.grave ? *p.grave : tombstone, tombstone,
                            store_.options_.conflict_mode);
  p.adopting = true;  // stored with the next commit
  return true;
}

const Entry* WriteSet::GraveOf(std::string_view key) {
  auto held = Peek(key);
  return held ? held->grave : nullptr;
}

Result<std::optional<VersionVector>> WriteSet::ClockOf(std::string_view key) {
  auto held = Peek(key);
  if (!held) return held.error();
  if (held->entry) return std::optional(std::move(held->entry->clock));
  if (held->grave) return std::optional(held->grave->clock);
  return std::optional<VersionVector>();
}

Status WriteSet::Stage() {
  if (store_.has_staged())
    return Status::InvalidArgument("a staged batch awaits its write");
  // A member kept between commits: a group's moves can pass glibc's
  // threshold at which freeing a block consolidates every small free block.
  std::vector<TreeMove>& moves = moves_;
  moves.clear();
  WriteBatch& batch = store_.staged_;
  for (auto& [key, value] : hints_) {
    if (value)
      batch.PutMoved(Column::kHints, key, std::move(*value));
    else
      batch.Delete(Column::kHints, key);
  }
  hints_.clear();
  Graves& graves = store_.graves_;
  const bool keep_graves = store_.options_.max_graves > 0;
  graves.StageEvictions(batch);
  GcState gc = store_.gc_;
  if (members_) gc.members = std::move(*members_);
  members_.reset();
  MemberRecord record = std::move(record_).value_or(store_.record_);
  record_.reset();
  auto put_grave = [&](const std::string& key, const Entry& grave) {
    gc.dot_floor = std::max(gc.dot_floor, grave.clock.Get(store_.self_));
    if (const Sibling* winner = grave.Winner())
      gc.timestamp_floor = std::max(gc.timestamp_floor, winner->timestamp_ms);
    if (keep_graves) graves.StagePut(batch, key, grave);
  };
  for (auto& [key, p] : pending_) {
    std::string storage_key = store_.StorageKey(key);
    const uint32_t segment = ReadBigEndian32(storage_key);
    std::optional<uint64_t> new_hash;
    std::string encoded;
    const bool live = p.entry && !p.entry->IsDeleted() && !p.dropping;
    if (p.dropping) {
      if (!p.stored_hash) continue;
      batch.Delete(Column::kEntries, storage_key);
      // No grave, but the floors a grave would raise: a later write here
      // continues above every dot and timestamp this node held.
      gc.dot_floor = std::max(gc.dot_floor, p.entry->clock.Get(store_.self_));
      if (const Sibling* winner = p.entry->Winner())
        gc.timestamp_floor = std::max(gc.timestamp_floor, winner->timestamp_ms);
      p.entry.reset();
    } else if (p.entry) {
      encoded = EncodeEntry(*p.entry);
      new_hash = EntryHash(key, encoded);
      if (new_hash == p.stored_hash) continue;  // unchanged: nothing to write
      batch.PutMoved(Column::kEntries, std::move(storage_key),
                     RecordValue(*p.entry, encoded));
      if (p.had_grave) graves.StageRemove(batch, key);  // written again
    } else if (p.collecting && p.stored_hash) {
      batch.Delete(Column::kEntries, storage_key);
      put_grave(key, *p.grave);
    } else {
      if (p.adopting) put_grave(key, *p.grave);
      continue;  // no record to write or erase
    }
    moves.push_back({segment, p.stored_hash, new_hash,
                     int{live} - int{p.stored_live},
                     p.stored_hash && !p.stored_live, p.entry && !live, &key,
                     &p, p.origin, std::move(encoded)});
  }
  store_.gc_.StageChanges(gc, batch);
  store_.record_.StageChanges(record, batch);
  graves.Commit(store_.clock_.MonotonicMillis());
  store_.gc_ = std::move(gc);
  store_.record_ = std::move(record);
  for (auto& m : moves) {
    if (store_.observer_) store_.observer_(*m.key, m.encoded, m.origin);
    if (m.deleted && !m.was_deleted) store_.tombstoned_keys_.insert(*m.key);
    if (m.was_deleted && !m.deleted) store_.tombstoned_keys_.erase(*m.key);
    if (!m.new_hash) {  // GC and Drop erase
      if (m.pending->dropping)
        ++store_.keys_dropped_;
      else
        ++store_.tombstones_collected_;
    }
    store_.cache_.Put(*m.key, EntryCache::Cached{std::move(m.pending->entry),
                                                 m.new_hash.value_or(0)});
    if (m.old_hash) {
      store_.tree_.Remove(m.segment, *m.old_hash);
    } else {
      ++store_.key_count_;
    }
    if (m.new_hash) {
      store_.tree_.Add(m.segment, *m.new_hash);
    } else {
      --store_.key_count_;
    }
    store_.live_key_count_ += m.live_delta;
  }
  pending_.clear();
  moves.clear();
  // Reads of the staged keys come from the batch until it is written.
  auto& index = store_.staged_index_;
  for (const auto& op : batch.ops()) {
    if (op.column == Column::kEntries) index.push_back(&op);
    if (op.column == Column::kHints) store_.staged_hints_[op.key] = &op;
  }
  std::sort(index.begin(), index.end(),
            [](const WriteBatch::Op* a, const WriteBatch::Op* b) {
              return a->key < b->key;
            });
  return Status::Ok();
}

Status WriteSet::Commit() {
  GOSSIPKV_RETURN_IF_ERROR(Stage());
  if (!store_.has_staged()) return Status::Ok();
  Status written = store_.engine_.Write(store_.staged_);
  Status reloaded = store_.Written(written);
  if (!written.ok()) return written;
  return reloaded;
}

Result<std::optional<std::string>> WriteSet::ReadHint(const std::string& key) {
  auto it = hints_.find(key);
  if (it != hints_.end()) return it->second;
  auto staged = store_.staged_hints_.find(key);
  if (staged != store_.staged_hints_.end()) {
    if (staged->second->is_delete) return std::optional<std::string>();
    return std::optional<std::string>(staged->second->value);
  }
  return store_.engine_.Get(Column::kHints, key);
}

void WriteSet::Discard() {
  hints_.clear();
  pending_.clear();
  members_.reset();
  record_.reset();
}

}  // namespace gossipkv
