// VersionedStore and WriteSet: one record per key, the tree moved after
// commit, identity and tree recovered at open.
#include "store/versioned_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "proto/entry.pb.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr std::string_view kIdentityKey = "identity";
constexpr uint32_t kSchemaVersion = 2;
constexpr size_t kSegmentPrefix = 4;
constexpr char kFlagDeleted = 1;  // the winner is a tombstone

std::string RecordValue(const Entry& entry, std::string_view encoded) {
  std::string out;
  out.reserve(1 + encoded.size());
  out.push_back(entry.IsDeleted() ? kFlagDeleted : 0);
  out.append(encoded);
  return out;
}

Status KeyCorruption(std::string_view key, const Status& cause) {
  return Status::Corruption(fmt::format(
      "entry for key '{}': {}", EscapeForDisplay(key), cause.message()));
}

// Decodes a stored record (flags ++ entry); the canonical bytes' hash too.
struct Decoded {
  Entry entry;
  uint64_t hash;
};
Result<Decoded> DecodeRecord(std::string_view key, std::string_view record) {
  if (record.empty())
    return KeyCorruption(key, Status::Corruption("empty record"));
  auto entry = DecodeEntry(record.substr(1));
  if (!entry) return KeyCorruption(key, entry.error());
  return Decoded{std::move(*entry), EntryHash(key, record.substr(1))};
}

}  // namespace

// ---- WriteSet ---------------------------------------------------------------

Result<WriteSet::Pending*> WriteSet::Load(std::string_view key) {
  auto it = pending_.find(std::string(key));
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

Result<std::optional<Entry>> WriteSet::Read(std::string_view key) {
  // Pure reads stay out of pending_, so Commit never re-encodes them.
  auto it = pending_.find(std::string(key));
  if (it != pending_.end()) return it->second.entry;
  return store_.Get(key);
}

Result<Entry> WriteSet::Write(std::string_view key,
                              std::optional<std::string_view> value,
                              const VersionVector* context) {
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
  // Dots above the GC floor: without the key's grave, its entry (none, or
  // one taken from a peer since) may name less of this node than the dots
  // it already issued for the key. Under last-write-wins, a timestamp above
  // every deletion it collected or adopted, for the same reason.
  const GcState& gc = store_.gc_;
  if (p.entry->clock.Get(store_.self_) < gc.dot_floor)
    p.entry->clock.Set(store_.self_, gc.dot_floor);
  const VersionVector own_clock = p.entry->clock;
  const ConflictMode mode = store_.options_.conflict_mode;
  int64_t now_ms = store_.clock_.WallMillis();
  if (mode == ConflictMode::kLastWriteWins)
    now_ms = std::max(now_ms, gc.timestamp_floor + 1);
  ApplyWrite(*p.entry, store_.self_, context ? *context : own_clock, value,
             now_ms, mode);
  p.origin = kClientWrite;
  return *p.entry;
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
  p.collecting = p.adopting = false;
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
  return true;
}

Result<WriteSet::Held> WriteSet::Peek(std::string_view key) {
  auto it = pending_.find(std::string(key));
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

Status WriteSet::Commit() {
  struct TreeMove {
    uint32_t segment;
    std::optional<uint64_t> old_hash, new_hash;
    int live_delta;
    bool was_deleted, deleted;
    const std::string* key;
    Pending* pending;
    int origin;
    std::string encoded;  // canonical bytes; empty when erased
  };
  std::vector<TreeMove> moves;
  moves.reserve(pending_.size());
  WriteBatch batch;
  Graves& graves = store_.graves_;
  const bool keep_graves = store_.options_.max_graves > 0;
  graves.StageEvictions(batch);
  GcState gc = store_.gc_;
  if (members_) gc.members = std::move(*members_);
  members_.reset();
  auto put_grave = [&](const std::string& key, const Entry& grave) {
    gc.dot_floor = std::max(gc.dot_floor, grave.clock.Get(store_.self_));
    if (const Sibling* winner = grave.Winner())
      gc.timestamp_floor = std::max(gc.timestamp_floor, winner->timestamp_ms);
    if (keep_graves) graves.StagePut(batch, key, grave);
  };
  for (auto& [key, p] : pending_) {
    const std::string storage_key = store_.StorageKey(key);
    std::optional<uint64_t> new_hash;
    std::string encoded;
    const bool live = p.entry && !p.entry->IsDeleted();
    if (p.entry) {
      encoded = EncodeEntry(*p.entry);
      new_hash = EntryHash(key, encoded);
      if (new_hash == p.stored_hash) continue;  // unchanged: nothing to write
      batch.Put(Column::kEntries, storage_key, RecordValue(*p.entry, encoded));
      if (p.had_grave) graves.StageRemove(batch, key);  // written again
    } else if (p.collecting && p.stored_hash) {
      batch.Delete(Column::kEntries, storage_key);
      put_grave(key, *p.grave);
    } else {
      if (p.adopting) put_grave(key, *p.grave);
      continue;  // no record to write or erase
    }
    moves.push_back({ReadBigEndian32(storage_key), p.stored_hash, new_hash,
                     int{live} - int{p.stored_live},
                     p.stored_hash && !p.stored_live, p.entry && !live, &key,
                     &p, p.origin, std::move(encoded)});
  }
  store_.gc_.StageChanges(gc, batch);
  Status written = batch.empty() ? Status::Ok() : store_.engine_.Write(batch);
  if (!written.ok()) {
    graves.Abort();
    pending_.clear();
    return written;
  }
  graves.Commit(store_.clock_.MonotonicMillis());
  store_.gc_ = std::move(gc);
  for (auto& m : moves) {
    if (store_.observer_) store_.observer_(*m.key, m.encoded, m.origin);
    if (m.deleted && !m.was_deleted) store_.tombstoned_keys_.insert(*m.key);
    if (m.was_deleted && !m.deleted) store_.tombstoned_keys_.erase(*m.key);
    if (!m.new_hash) ++store_.tombstones_collected_;  // only GC erases
    // Only now, with the change stored, may the cache show it.
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
  return Status::Ok();
}

// ---- VersionedStore ---------------------------------------------------------

VersionedStore::VersionedStore(Engine& engine, const StoreOptions& options,
                               Clock& clock)
    : engine_(engine),
      options_(options),
      clock_(clock),
      tree_(options.merkle),
      cache_(options.entry_cache_bytes),
      graves_(options.max_graves, options.grave_min_age_ms),
      batch_(std::make_unique<WriteSet>(*this)) {}

Result<std::unique_ptr<VersionedStore>> VersionedStore::Open(
    Engine& engine, std::string_view node_id, const StoreOptions& options,
    Clock& clock, Random& random) {
  GOSSIPKV_RETURN_IF_ERROR(options.merkle.Validate());
  if (node_id.empty())
    return Status::InvalidArgument("node id must not be empty");
  std::unique_ptr<VersionedStore> store(
      new VersionedStore(engine, options, clock));
  GOSSIPKV_RETURN_IF_ERROR(store->LoadIdentity(node_id, random));
  if (store->rekey_needed_) GOSSIPKV_RETURN_IF_ERROR(store->Rekey());
  auto gc = GcState::Load(engine);
  if (!gc) return gc.error();
  store->gc_ = std::move(*gc);
  auto unreadable = store->graves_.Load(engine, clock.MonotonicMillis());
  if (!unreadable) return unreadable.error();
  store->corrupt_graves_ = *unreadable;
  GOSSIPKV_RETURN_IF_ERROR(store->RebuildTree());
  return store;
}

Status VersionedStore::LoadIdentity(std::string_view node_id, Random& random) {
  auto stored = engine_.Get(Column::kMeta, kIdentityKey);
  if (!stored) return stored.error();
  if (!stored->has_value()) {
    // A new or lost data directory: a new epoch, so no dot is ever reissued.
    uint64_t epoch = 0;
    while (epoch == 0) epoch = random.Next64();
    self_ = Actor{std::string(node_id), epoch};
    fresh_epoch_ = true;
    return SaveIdentity();
  }
  pb::NodeIdentity identity;
  if (!identity.ParseFromString(**stored)) {
    return Status::Corruption(
        "node identity in the meta column does not parse");
  }
  if (identity.schema_version() != kSchemaVersion) {
    return Status::InvalidArgument(fmt::format(
        "data directory has schema version {}, this build reads version {}",
        identity.schema_version(), kSchemaVersion));
  }
  if (identity.node_id() != node_id) {
    return Status::InvalidArgument(
        fmt::format("data directory belongs to node '{}', not '{}'",
                    identity.node_id(), node_id));
  }
  self_ = Actor{identity.node_id(), identity.epoch()};
  rekey_needed_ = identity.merkle_segment_bits() !=
                  static_cast<uint32_t>(options_.merkle.segment_bits);
  return Status::Ok();
}

Status VersionedStore::SaveIdentity() {
  pb::NodeIdentity identity;
  identity.set_node_id(self_.node);
  identity.set_epoch(self_.epoch);
  identity.set_schema_version(kSchemaVersion);
  identity.set_merkle_segment_bits(options_.merkle.segment_bits);
  WriteBatch batch;
  batch.Put(Column::kMeta, kIdentityKey, identity.SerializeAsString());
  return engine_.Write(batch);
}

std::string VersionedStore::StorageKey(std::string_view key) const {
  std::string out;
  out.reserve(kSegmentPrefix + key.size());
  AppendBigEndian32(out, tree_.SegmentOfKey(key));
  out.append(key);
  return out;
}

Status VersionedStore::ReloadFromDisk() {
  if (batch_->size() > 0)
    return Status::InvalidArgument("changes are pending: reload after them");
  cache_.Clear();
  auto gc = GcState::Load(engine_);
  if (!gc) return gc.error();
  gc_ = std::move(*gc);
  auto unreadable = graves_.Load(engine_, clock_.MonotonicMillis());
  if (!unreadable) return unreadable.error();
  corrupt_graves_ += *unreadable;
  return RebuildTree();
}

Status VersionedStore::RebuildTree() {
  tree_.Clear();
  tombstoned_keys_.clear();
  key_count_ = live_key_count_ = corrupt_records_ = 0;
  corrupt_samples_.clear();
  return engine_.Scan(
      Column::kEntries, "", "", [&](std::string_view k, std::string_view v) {
        if (k.size() < kSegmentPrefix || v.empty() ||
            ReadBigEndian32(k) >= tree_.shape().segment_count()) {
          ++corrupt_records_;
          if (corrupt_samples_.size() < 16)
            corrupt_samples_.push_back(EscapeForDisplay(k));
          return true;
        }
        // The hash covers the canonical bytes as stored; whether they decode is
        // checked when the key is used, so one bad entry cannot stop the node.
        tree_.Add(ReadBigEndian32(k),
                  EntryHash(k.substr(kSegmentPrefix), v.substr(1)));
        ++key_count_;
        if ((v[0] & kFlagDeleted) == 0) {
          ++live_key_count_;
        } else {
          tombstoned_keys_.emplace(k.substr(kSegmentPrefix));
        }
        return true;
      });
}

Status VersionedStore::Rekey() {
  // Storage keys start with the segment, which depends on segment_bits:
  // move every record under its new key, in bounded batches.
  constexpr size_t kBatchOps = 4096;
  WriteBatch batch;
  Status failed;
  auto flush = [&] {
    if (!batch.empty()) failed = engine_.Write(batch);
    batch.Clear();
    return failed.ok();
  };
  GOSSIPKV_RETURN_IF_ERROR(engine_.Scan(
      Column::kEntries, "", "", [&](std::string_view k, std::string_view v) {
        if (k.size() < kSegmentPrefix)
          return true;  // left for RebuildTree to report
        std::string moved = StorageKey(k.substr(kSegmentPrefix));
        if (moved == k) return true;
        batch.Delete(Column::kEntries, k);
        batch.Put(Column::kEntries, moved, v);
        return batch.ops().size() < kBatchOps || flush();
      }));
  if (!flush()) return failed;
  return SaveIdentity();
}

Result<EntryCache::Cached> VersionedStore::Lookup(std::string_view key) {
  if (const EntryCache::Cached* cached = cache_.Find(key)) return *cached;
  auto stored = engine_.Get(Column::kEntries, StorageKey(key));
  if (!stored) return stored.error();
  EntryCache::Cached result;
  if (stored->has_value()) {
    auto decoded = DecodeRecord(key, **stored);
    if (!decoded) return decoded.error();  // never cached: every use reports it
    result.entry = std::move(decoded->entry);
    result.hash = decoded->hash;
  }
  cache_.Put(key, result);
  return result;
}

Status VersionedStore::ScanSegment(
    uint32_t segment,
    const std::function<void(std::string_view key, uint64_t hash)>& visit) {
  std::string prefix;
  AppendBigEndian32(prefix, segment);
  return engine_.ScanPrefix(
      Column::kEntries, prefix, [&](std::string_view k, std::string_view v) {
        if (!v.empty())
          visit(k.substr(kSegmentPrefix),
                EntryHash(k.substr(kSegmentPrefix), v.substr(1)));
        return true;
      });
}

Result<std::optional<Entry>> VersionedStore::Get(std::string_view key) {
  auto stored = Lookup(key);
  if (!stored) return stored.error();
  return std::move(stored->entry);
}

Result<Entry> VersionedStore::Write(std::string_view key,
                                    std::optional<std::string_view> value,
                                    const VersionVector* context) {
  auto entry = batch_->Write(key, value, context);
  if (!entry) return entry;
  GOSSIPKV_RETURN_IF_ERROR(batch_->Commit());
  return entry;
}

Result<bool> VersionedStore::Merge(std::string_view key, const Entry& remote) {
  auto changed = batch_->Merge(key, remote);
  if (!changed) return changed;
  GOSSIPKV_RETURN_IF_ERROR(batch_->Commit());
  return *changed;
}

}  // namespace gossipkv
