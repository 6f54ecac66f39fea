// VersionedStore and WriteSet: entries and digests written together, the
// tree moved after commit, identity and tree recovered at open.
#include "replication/versioned_store.h"

#include <fmt/format.h>

#include "proto/entry.pb.h"
#include "replication/entry_codec.h"
#include "util/bytes.h"

namespace gossipkv {
namespace {

constexpr std::string_view kIdentityKey = "identity";
constexpr uint32_t kSchemaVersion = 1;

Status KeyCorruption(std::string_view key, const Status& cause) {
  return Status::Corruption(fmt::format(
      "entry for key '{}': {}", EscapeForDisplay(key), cause.message()));
}

}  // namespace

// ---- WriteSet ---------------------------------------------------------------

Result<WriteSet::Pending*> WriteSet::Load(std::string_view key) {
  auto it = pending_.find(std::string(key));
  if (it != pending_.end()) return &it->second;
  auto stored = store_.engine_.Get(Column::kEntries, key);
  if (!stored) return stored.error();
  Pending pending;
  if (stored->has_value()) {
    auto entry = DecodeEntry(**stored);
    if (!entry) return KeyCorruption(key, entry.error());
    pending.stored_hash = EntryHash(key, **stored);
    pending.entry = std::move(*entry);
  }
  return &pending_.emplace(std::string(key), std::move(pending)).first->second;
}

Result<std::optional<Entry>> WriteSet::Read(std::string_view key) {
  auto pending = Load(key);
  if (!pending) return pending.error();
  return (*pending)->entry;
}

Result<Entry> WriteSet::Write(std::string_view key,
                              std::optional<std::string_view> value,
                              const VersionVector* context) {
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (!p.entry) p.entry.emplace();
  const VersionVector own_clock = p.entry->clock;
  ApplyWrite(*p.entry, store_.self_, context ? *context : own_clock, value,
             store_.clock_.WallMillis(), store_.options_.conflict_mode);
  return *p.entry;
}

Result<bool> WriteSet::Merge(std::string_view key, const Entry& remote) {
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  Pending& p = **loaded;
  if (!p.entry) {
    p.entry = remote;
    if (store_.options_.conflict_mode == ConflictMode::kLastWriteWins) {
      p.entry = gossipkv::Merge(remote, remote, ConflictMode::kLastWriteWins);
    }
    return true;
  }
  Entry merged =
      gossipkv::Merge(*p.entry, remote, store_.options_.conflict_mode);
  if (merged == *p.entry) return false;
  p.entry = std::move(merged);
  return true;
}

Status WriteSet::Erase(std::string_view key) {
  auto loaded = Load(key);
  if (!loaded) return loaded.error();
  (*loaded)->entry.reset();
  return Status::Ok();
}

Status WriteSet::Commit() {
  struct TreeMove {
    uint32_t segment;
    std::optional<uint64_t> old_hash, new_hash;
  };
  std::vector<TreeMove> moves;
  moves.reserve(pending_.size());
  WriteBatch batch;
  for (auto& [key, p] : pending_) {
    const uint32_t segment = store_.tree_.SegmentOfKey(key);
    const std::string digest_key = store_.DigestKey(key);
    std::optional<uint64_t> new_hash;
    if (p.entry) {
      std::string bytes = EncodeEntry(*p.entry);
      new_hash = EntryHash(key, bytes);
      if (new_hash == p.stored_hash) continue;  // unchanged: nothing to write
      std::string hash_bytes;
      AppendBigEndian64(hash_bytes, *new_hash);
      batch.Put(Column::kEntries, key, bytes);
      batch.Put(Column::kDigests, digest_key, hash_bytes);
    } else {
      if (!p.stored_hash) continue;  // erased something never stored
      batch.Delete(Column::kEntries, key);
      batch.Delete(Column::kDigests, digest_key);
    }
    moves.push_back({segment, p.stored_hash, new_hash});
  }
  pending_.clear();
  if (batch.empty()) return Status::Ok();
  GOSSIPKV_RETURN_IF_ERROR(store_.engine_.Write(batch));
  for (const auto& m : moves) {
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
  }
  return Status::Ok();
}

// ---- VersionedStore ---------------------------------------------------------

VersionedStore::VersionedStore(Engine& engine, const StoreOptions& options,
                               Clock& clock)
    : engine_(engine),
      options_(options),
      clock_(clock),
      tree_(options.merkle) {}

Result<std::unique_ptr<VersionedStore>> VersionedStore::Open(
    Engine& engine, std::string_view node_id, const StoreOptions& options,
    Clock& clock, Random& random) {
  GOSSIPKV_RETURN_IF_ERROR(options.merkle.Validate());
  if (node_id.empty())
    return Status::InvalidArgument("node id must not be empty");
  std::unique_ptr<VersionedStore> store(
      new VersionedStore(engine, options, clock));
  GOSSIPKV_RETURN_IF_ERROR(store->LoadIdentity(node_id, random));
  if (store->rekey_needed_) GOSSIPKV_RETURN_IF_ERROR(store->RekeyDigests());
  GOSSIPKV_RETURN_IF_ERROR(store->RebuildTree());
  return store;
}

Status VersionedStore::LoadIdentity(std::string_view node_id, Random& random) {
  auto stored = engine_.Get(Column::kMeta, kIdentityKey);
  if (!stored) return stored.error();
  pb::NodeIdentity identity;
  if (stored->has_value()) {
    if (!identity.ParseFromString(**stored)) {
      return Status::Corruption(
          "node identity in the meta column does not parse");
    }
    if (identity.schema_version() != kSchemaVersion) {
      return Status::InvalidArgument(
          fmt::format("data directory has schema version {}, this "
                      "build reads version {}",
                      identity.schema_version(), kSchemaVersion));
    }
    if (identity.node_id() != node_id) {
      return Status::InvalidArgument(
          fmt::format("data directory belongs to node '{}', not '{}'",
                      identity.node_id(), node_id));
    }
    self_ = Actor{identity.node_id(), identity.epoch()};
    if (identity.merkle_segment_bits() ==
        static_cast<uint32_t>(options_.merkle.segment_bits)) {
      return Status::Ok();
    }
    rekey_needed_ = true;
  } else {
    // A new or lost data directory: a new epoch, so no dot is ever reissued.
    uint64_t epoch = 0;
    while (epoch == 0) epoch = random.Next64();
    self_ = Actor{std::string(node_id), epoch};
    fresh_epoch_ = true;
    identity.set_node_id(self_.node);
    identity.set_epoch(epoch);
    identity.set_schema_version(kSchemaVersion);
  }
  identity.set_merkle_segment_bits(options_.merkle.segment_bits);
  WriteBatch batch;
  batch.Put(Column::kMeta, kIdentityKey, identity.SerializeAsString());
  return engine_.Write(batch);
}

std::string VersionedStore::DigestKey(std::string_view key) const {
  std::string out;
  out.reserve(4 + key.size());
  AppendBigEndian32(out, tree_.SegmentOfKey(key));
  out.append(key);
  return out;
}

Status VersionedStore::RebuildTree() {
  tree_.Clear();
  key_count_ = 0;
  Status bad;
  GOSSIPKV_RETURN_IF_ERROR(engine_.Scan(
      Column::kDigests, "", "", [&](std::string_view k, std::string_view v) {
        if (k.size() < 4 || v.size() != 8 ||
            ReadBigEndian32(k) >= tree_.shape().segment_count()) {
          bad = Status::Corruption(
              fmt::format("malformed digest record for key '{}'",
                          EscapeForDisplay(k.size() >= 4 ? k.substr(4) : k)));
          return false;
        }
        tree_.Add(ReadBigEndian32(k), ReadBigEndian64(v));
        ++key_count_;
        return true;
      }));
  return bad;
}

Status VersionedStore::RekeyDigests() {
  // Segment prefixes depend on segment_bits: recompute every digest record
  // from the entries, in bounded batches.
  constexpr size_t kBatchKeys = 4096;
  WriteBatch batch;
  Status failed;
  auto flush = [&] {
    if (!batch.empty()) failed = engine_.Write(batch);
    batch.Clear();
    return failed.ok();
  };
  GOSSIPKV_RETURN_IF_ERROR(engine_.Scan(
      Column::kDigests, "", "", [&](std::string_view k, std::string_view) {
        batch.Delete(Column::kDigests, k);
        return batch.ops().size() < kBatchKeys || flush();
      }));
  if (!flush()) return failed;
  GOSSIPKV_RETURN_IF_ERROR(engine_.Scan(
      Column::kEntries, "", "", [&](std::string_view k, std::string_view v) {
        std::string hash;
        AppendBigEndian64(hash, EntryHash(k, v));
        batch.Put(Column::kDigests, DigestKey(k), hash);
        return batch.ops().size() < kBatchKeys || flush();
      }));
  if (!flush()) return failed;
  pb::NodeIdentity identity;
  identity.set_node_id(self_.node);
  identity.set_epoch(self_.epoch);
  identity.set_schema_version(kSchemaVersion);
  identity.set_merkle_segment_bits(options_.merkle.segment_bits);
  batch.Put(Column::kMeta, kIdentityKey, identity.SerializeAsString());
  flush();
  return failed;
}

Result<std::optional<Entry>> VersionedStore::Get(std::string_view key) {
  auto stored = engine_.Get(Column::kEntries, key);
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::optional<Entry>();
  auto entry = DecodeEntry(**stored);
  if (!entry) return KeyCorruption(key, entry.error());
  return std::optional<Entry>(std::move(*entry));
}

Result<Entry> VersionedStore::Write(std::string_view key,
                                    std::optional<std::string_view> value,
                                    const VersionVector* context) {
  WriteSet set(*this);
  auto entry = set.Write(key, value, context);
  if (!entry) return entry;
  GOSSIPKV_RETURN_IF_ERROR(set.Commit());
  return entry;
}

Result<bool> VersionedStore::Merge(std::string_view key, const Entry& remote) {
  WriteSet set(*this);
  auto changed = set.Merge(key, remote);
  if (!changed || !*changed) return changed;
  GOSSIPKV_RETURN_IF_ERROR(set.Commit());
  return true;
}

}  // namespace gossipkv
