// VersionedStore: a node's keys as versioned entries in an Engine, with the
// Merkle tree over them kept current (DESIGN §2–4).
//
// Every change to a key is one atomic engine write of the entry and its
// digest; the in-memory tree is updated only after that write commits, so
// the tree never claims data the disk lacks. Changes to several keys can be
// grouped in a WriteSet and committed together (pipelined client writes,
// anti-entropy batches) so one fsync covers them all.
//
// Opening the store loads the node's identity from the meta column family or
// creates it with a fresh epoch (empty or lost data directory), and rebuilds
// the tree from the digests column family.
//
// Owned by the node's event-loop thread (server/) or by the simulator;
// never shared across threads. Stored bytes that fail to decode are reported
// as Corruption naming the key.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "replication/entry.h"
#include "replication/merkle_tree.h"
#include "storage/engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace gossipkv {

struct StoreOptions {
  MerkleShape merkle;
  ConflictMode conflict_mode = ConflictMode::kSiblings;
};

class VersionedStore;

// Changes to several keys, committed atomically. Reads through a WriteSet
// see its own uncommitted changes. Use one at a time per store.
class WriteSet {
 public:
  explicit WriteSet(VersionedStore& store) : store_(store) {}

  // Coordinates a write here; `context` null means the key's current clock
  // (plain SET/DEL). `value` nullopt writes a tombstone. Returns the entry
  // as it will be stored.
  Result<Entry> Write(std::string_view key,
                      std::optional<std::string_view> value,
                      const VersionVector* context);
  // Merges an entry received from a peer; true when the local entry changed.
  Result<bool> Merge(std::string_view key, const Entry& remote);
  // Removes the key outright (tombstone GC).
  Status Erase(std::string_view key);

  // The entry as this WriteSet sees it (pending change, else stored).
  Result<std::optional<Entry>> Read(std::string_view key);

  size_t size() const { return pending_.size(); }
  // Writes every pending change in one engine batch, then updates the tree.
  Status Commit();

 private:
  struct Pending {
    std::optional<uint64_t> stored_hash;  // hash on disk before this set
    std::optional<Entry> entry;           // nullopt: erase
  };
  Result<Pending*> Load(std::string_view key);

  VersionedStore& store_;
  std::unordered_map<std::string, Pending> pending_;
};

class VersionedStore {
 public:
  // `engine`, `clock` and `random` must outlive the store.
  static Result<std::unique_ptr<VersionedStore>> Open(
      Engine& engine, std::string_view node_id, const StoreOptions& options,
      Clock& clock, Random& random);

  // This node as a writer: its id and the epoch of its data directory.
  const Actor& self() const { return self_; }
  // True when Open created a new identity (empty or lost data directory).
  bool fresh_epoch() const { return fresh_epoch_; }
  const StoreOptions& options() const { return options_; }

  Result<std::optional<Entry>> Get(std::string_view key);
  // Single-key conveniences over a one-key WriteSet.
  Result<Entry> Write(std::string_view key,
                      std::optional<std::string_view> value,
                      const VersionVector* context = nullptr);
  Result<bool> Merge(std::string_view key, const Entry& remote);

  const MerkleTree& tree() const { return tree_; }
  // Keys stored, tombstoned ones included (they still replicate).
  uint64_t key_count() const { return key_count_; }
  Engine& engine() { return engine_; }

  // The digests-column key of `key`: segment (be32) ++ key.
  std::string DigestKey(std::string_view key) const;

 private:
  friend class WriteSet;
  VersionedStore(Engine& engine, const StoreOptions& options, Clock& clock);
  Status LoadIdentity(std::string_view node_id, Random& random);
  Status RebuildTree();
  Status RekeyDigests();  // after a change of segment_bits

  Engine& engine_;
  StoreOptions options_;
  Clock& clock_;
  Actor self_;
  bool fresh_epoch_ = false;
  bool rekey_needed_ = false;
  MerkleTree tree_;
  uint64_t key_count_ = 0;
};

}  // namespace gossipkv
