// VersionedStore: one record per key; identity, tree, graves and floors
// recovered at open; reads served through the cache and the staged batch.
#include "store/versioned_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "proto/entry.pb.h"
#include "store/store_record.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr std::string_view kIdentityKey = "identity";
constexpr uint32_t kSchemaVersion = 2;
using store_record::DecodeRecord;
using store_record::kFlagDeleted;
using store_record::kSegmentPrefix;

}  // namespace

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
  auto record = MemberRecord::Load(engine);
  if (!record) return record.error();
  store->record_ = std::move(*record);
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

Status VersionedStore::Written(const Status& written) {
  staged_index_.clear();
  staged_hints_.clear();
  staged_.Clear();
  if (written.ok()) return Status::Ok();
  // Memory moved to a state the disk may lack, and what is pending was
  // computed from it.
  batch_->Discard();
  return ReloadFromDisk();
}

const WriteBatch::Op* VersionedStore::StagedRecord(
    std::string_view storage_key) const {
  auto it = std::lower_bound(
      staged_index_.begin(), staged_index_.end(), storage_key,
      [](const WriteBatch::Op* op, std::string_view k) { return op->key < k; });
  if (it == staged_index_.end() || (*it)->key != storage_key) return nullptr;
  return *it;
}

Status VersionedStore::ReloadFromDisk() {
  if (batch_->size() > 0)
    return Status::InvalidArgument("changes are pending: reload after them");
  if (has_staged())
    return Status::InvalidArgument("a batch is being written: reload after it");
  // Until every step below succeeds, memory is partial.
  reload_needed_ = true;
  cache_.Clear();
  auto gc = GcState::Load(engine_);
  if (!gc) return gc.error();
  gc_ = std::move(*gc);
  auto record = MemberRecord::Load(engine_);
  if (!record) return record.error();
  record_ = std::move(*record);
  auto unreadable = graves_.Load(engine_, clock_.MonotonicMillis());
  if (!unreadable) return unreadable.error();
  corrupt_graves_ += *unreadable;
  GOSSIPKV_RETURN_IF_ERROR(RebuildTree());
  reload_needed_ = false;
  return Status::Ok();
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
  const std::string storage_key = StorageKey(key);
  std::optional<std::string> stored_record;
  const std::string* record = nullptr;
  if (const WriteBatch::Op* op = StagedRecord(storage_key)) {
    if (!op->is_delete) record = &op->value;
  } else {
    auto stored = engine_.Get(Column::kEntries, storage_key);
    if (!stored) return stored.error();
    stored_record = std::move(*stored);
    if (stored_record) record = &*stored_record;
  }
  EntryCache::Cached result;
  if (record != nullptr) {
    auto decoded = DecodeRecord(key, *record);
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
  auto visit_record = [&](std::string_view k, std::string_view v) {
    if (!v.empty())
      visit(k.substr(kSegmentPrefix),
            EntryHash(k.substr(kSegmentPrefix), v.substr(1)));
  };
  // The staged records of the segment, merged in key order over the
  // engine's (which may not show them yet).
  auto staged = std::lower_bound(
      staged_index_.begin(), staged_index_.end(), prefix,
      [](const WriteBatch::Op* op, std::string_view k) { return op->key < k; });
  auto staged_end = staged;
  while (staged_end != staged_index_.end() &&
         std::string_view((*staged_end)->key).substr(0, kSegmentPrefix) ==
             prefix)
    ++staged_end;
  Status scanned = engine_.ScanPrefix(
      Column::kEntries, prefix, [&](std::string_view k, std::string_view v) {
        // Staged keys before k go first; a staged k replaces the engine's.
        for (; staged != staged_end && (*staged)->key < k; ++staged) {
          if (!(*staged)->is_delete)
            visit_record((*staged)->key, (*staged)->value);
        }
        if (staged != staged_end && (*staged)->key == k) {
          if (!(*staged)->is_delete)
            visit_record((*staged)->key, (*staged)->value);
          ++staged;
          return true;
        }
        visit_record(k, v);
        return true;
      });
  if (!scanned.ok()) return scanned;
  for (; staged != staged_end; ++staged) {
    if (!(*staged)->is_delete) visit_record((*staged)->key, (*staged)->value);
  }
  return Status::Ok();
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
