// VersionedStore: a node's keys as versioned entries in an Engine, with the
// Merkle tree over them kept current.
//
// Each key is one record in the entries column family, keyed by its Merkle
// segment then the key (so a segment's keys are one prefix scan) and holding
// a flags byte ("reads as deleted") followed by the canonical entry. A change
// is therefore one put. Changes to many keys are grouped in a WriteSet and
// committed together (pipelined or concurrent client writes, anti-entropy
// batches): one engine write, one fsync. A commit is staged, then written:
// staging moves memory (tree, cache, counts) at once and hands the batch to
// whoever writes it — the server's writer thread, while the event loop
// gathers the next batch — and reads see the staged batch until the
// engine reports it written. Memory may therefore be ahead of the disk by
// one batch; the replica driver keeps everything that could vouch for it
// (messages, replies) inside the node until the write is durable, and a
// failed write rebuilds memory from the disk.
//
// Opening the store loads the node's identity from the meta column family,
// or creates it with a fresh epoch (empty or lost data directory), and
// rebuilds the tree and key counts with one scan of the entries. Records
// that do not even frame correctly are skipped and reported by
// corrupt_records(); an entry that fails to decode is an error naming the
// key whenever it is read or written, and every other key keeps serving.
//
// Tombstone GC (replication/tombstone_gc.h) removes a deleted key's record
// once every member holds the deletion. The store then keeps the collected
// entry as the key's grave (store/graves.h: the latest max_graves of
// them, and every one younger than grave_min_age_ms), so a stale copy
// arriving later merges into it and is recognised as old rather than
// stored again, and a new write continues the old clock. Two floors, raised
// by every grave written (collected or adopted) and persisted with it,
// stand in for an evicted grave: this node's own counter in the grave's
// clock (the GC floor) and, for last-write-wins, its winner's timestamp.
// Every write this node coordinates gets a dot above the GC floor, and
// under last-write-wins a timestamp above the other, so once the grave is
// gone it neither reissues a dot a peer may still hold in an uncollected
// tombstone (its entry for the key, taken from a peer since, may name less
// of it than it issued), nor stamps a write older than the deletion it
// follows.
//
// Owned by the node's event-loop thread (server/) or by the simulator;
// never shared across threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/engine.h"
#include "store/entry_cache.h"
#include "store/gc_state.h"
#include "store/graves.h"
#include "store/member_record.h"
#include "store/merkle_tree.h"
#include "util/clock.h"
#include "util/random.h"
#include "versioning/entry.h"

namespace gossipkv {

struct StoreOptions {
  MerkleShape merkle;
  ConflictMode conflict_mode = ConflictMode::kSiblings;
  // Decoded entries kept in memory (EntryCache); 0 disables the cache.
  size_t entry_cache_bytes = 64 << 20;
  // Collected tombstones remembered (see above). A grave younger than
  // grave_min_age_ms is kept beyond max_graves: the bound must cover the
  // longest a GC round can run (TombstoneGcOptions::round_timeout_ms) plus
  // the longest a message can spend queued and in flight.
  size_t max_graves = 100'000;
  int64_t grave_min_age_ms = 60'000;
  // A client write whose entry (key and encoded entry, all siblings) would
  // exceed this is refused: no peer message could carry it. 0: no bound.
  size_t max_entry_bytes = 0;
};

class VersionedStore;

// Where a pending change came from, for the commit observer: a client
// write (0), a rumor that has travelled `hops` (> 0), or repair (kRepair).
inline constexpr int kClientWrite = 0;
inline constexpr int kRepair = -1;

// Changes to several keys, committed atomically. Reads through a WriteSet
// see its own uncommitted changes. A store has one, batch(): every writer
// (client commands, rumors, anti-entropy) adds to it and one driver commits
// it, so no change is ever computed from a state another pending change is
// about to replace.
class WriteSet {
 public:
  explicit WriteSet(VersionedStore& store) : store_(store) {}
  WriteSet(const WriteSet&) = delete;
  WriteSet& operator=(const WriteSet&) = delete;

  // Coordinates a write here; `context` null means the key's current clock
  // (plain SET/DEL). `value` nullopt writes a tombstone. Returns the entry
  // as it will be stored.
  Result<Entry> Write(std::string_view key,
                      std::optional<std::string_view> value,
                      const VersionVector* context);
  // Ok when Write(key, value, context) would leave an entry within
  // StoreOptions::max_entry_bytes; else an error naming the sizes.
  Status CheckFits(std::string_view key, std::optional<std::string_view> value,
                   const VersionVector* context);
  // Merges an entry received from a peer; true when the local entry changed.
  // `origin`: the rumor's hop count, or kRepair.
  Result<bool> Merge(std::string_view key, const Entry& remote,
                     int origin = kRepair);
  // Removes the key's record (tombstone GC) if its entry is still
  // `expected` and holds only tombstones; true when it will be removed.
  Result<bool> Collect(std::string_view key, const Entry& expected);
  // Removes the key's record because this node no longer replicates its
  // partition (replication/partition_handoff.h), if nothing is pending for
  // it and its stored entry still hashes to `expected_hash`; true when it
  // will be removed. No grave is kept, but the GC floors rise to the
  // entry's, so a later write here never reissues a dot it held. A write
  // or merge of the key before the commit cancels the removal.
  Result<bool> Drop(std::string_view key, uint64_t expected_hash);
  // The grave of `key` if it has no entry (see VersionedStore), else null.
  // Valid until the WriteSet or the store changes.
  const Entry* GraveOf(std::string_view key);
  // The clock this node holds for `key`: its entry's, or its grave's.
  Result<std::optional<VersionVector>> ClockOf(std::string_view key);
  // Whether this node's clock for `key` covers `tombstone`'s (tombstone GC
  // asks). A node that stores nothing for the key takes the tombstone into
  // the key's grave and answers yes: holding nothing, it holds nothing the
  // tombstone replaced, and from now on it drops such values as stale.
  Result<bool> Covers(std::string_view key, const Entry& tombstone);

  // The entry as this WriteSet sees it (pending change, else stored).
  Result<std::optional<Entry>> Read(std::string_view key);

  // Replaces the members tombstone GC must hear from (GcState), with the
  // next commit.
  void SetGcMembers(std::set<std::string> members) {
    members_ = std::move(members);
  }
  // Replaces this node's MemberRecord (incarnation, forgotten members), with
  // the next commit.
  void SetMemberRecord(MemberRecord record) { record_ = std::move(record); }
  // The MemberRecord the next commit stores (the pending one, else the
  // stored one): change it from here, so no pending change is lost.
  const MemberRecord& member_record() const;

  // Hinted handoff (replication/hinted_handoff.h): puts (or, with no
  // value, deletes) a record of the hints column with the next commit;
  // ReadHint sees what is pending, else what is being written, else what
  // is stored.
  void SetHint(std::string key, std::optional<std::string> encoded) {
    hints_[std::move(key)] = std::move(encoded);
  }
  Result<std::optional<std::string>> ReadHint(const std::string& key);

  // Changes pending: one per key and hint, one for the members, one for
  // the record.
  size_t size() const {
    return pending_.size() + hints_.size() + (members_ ? 1 : 0) +
           (record_ ? 1 : 0);
  }
  // Moves every pending change into one engine batch, the store's staged()
  // one, and the store's memory (tree, cache, counts, graves, floors) to
  // the state it describes; the WriteSet is empty afterwards. Refused while
  // an earlier staged batch awaits Written(). Whoever stages must write
  // staged() to the engine and report the outcome with Written(); until
  // then, what memory shows is not durable, and nothing that vouches for it
  // may leave the node (driver/replica_driver.h holds it).
  Status Stage();
  // Stage(), the engine write and Written() in one call.
  Status Commit();
  // Drops every pending change (their reads were of a state that failed to
  // be stored).
  void Discard();

 private:
  struct Pending {
    std::optional<uint64_t> stored_hash;  // hash on disk before this set
    bool stored_live = false;             // on disk and not deleted
    std::optional<Entry> entry;           // nullopt: erase
    int origin = kRepair;                 // the most rumor-worthy source
    // With no entry: the collected entry a new change builds on.
    std::optional<Entry> grave;
    bool had_grave = false;   // the store holds a grave for the key
    bool collecting = false;  // the erase is a collection
    bool adopting = false;    // `grave` is new (Covers)
    bool dropping = false;    // erase `entry`, raising the floors (Drop)
  };
  // How Stage() moves the store's memory for one changed key.
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
  Result<Pending*> Load(std::string_view key);
  // The client write itself, on the entry it continues.
  void Apply(Entry& entry, std::optional<std::string_view> value,
             const VersionVector* context);
  // What this node holds for `key`, without loading it into the set: the
  // pending or stored entry, else the grave (valid as for GraveOf).
  struct Held {
    std::optional<Entry> entry;
    const Entry* grave;
    bool pending;  // the key has a pending change
  };
  Result<Held> Peek(std::string_view key);

  VersionedStore& store_;
  StringMap<Pending> pending_;
  std::vector<TreeMove> moves_;  // Stage()'s, kept for their capacity
  std::optional<std::set<std::string>> members_;
  std::optional<MemberRecord> record_;
  std::map<std::string, std::optional<std::string>> hints_;
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
  // The store's one pending batch (see WriteSet).
  WriteSet& batch() { return *batch_; }
  // Conveniences: change one key through batch() and commit it (with
  // whatever else was pending).
  Result<Entry> Write(std::string_view key,
                      std::optional<std::string_view> value,
                      const VersionVector* context = nullptr);
  Result<bool> Merge(std::string_view key, const Entry& remote);

  const MerkleTree& tree() const { return tree_; }
  // Keys stored, tombstoned ones included (they still replicate).
  uint64_t key_count() const { return key_count_; }
  // Keys that read as present (winner not a tombstone): DBSIZE.
  uint64_t live_key_count() const { return live_key_count_; }
  // Keys dropped because this node does not replicate their partition.
  uint64_t keys_dropped() const { return keys_dropped_; }
  // Keys whose winner is a tombstone, in key order: GC candidates.
  const std::set<std::string>& tombstoned_keys() const {
    return tombstoned_keys_;
  }
  uint64_t tombstones_collected() const { return tombstones_collected_; }
  size_t grave_count() const { return graves_.size(); }
  // Persisted graves that did not decode at open (dropped).
  uint64_t corrupt_graves() const { return corrupt_graves_; }
  // The highest own counter in any grave written (persisted).
  uint64_t gc_floor() const { return gc_.dot_floor; }
  // The latest winner timestamp of any grave written (persisted).
  int64_t timestamp_floor() const { return gc_.timestamp_floor; }
  // The peers tombstone GC must hear from, as last stored (GcState).
  const std::set<std::string>& gc_members() const { return gc_.members; }
  // This node's incarnation and forgotten members, as last stored.
  const MemberRecord& member_record() const { return record_; }

  // Records skipped at open because they do not frame (and a few of their
  // storage keys, escaped for display).
  uint64_t corrupt_records() const { return corrupt_records_; }
  const std::vector<std::string>& corrupt_samples() const {
    return corrupt_samples_;
  }

  Engine& engine() { return engine_; }
  const EntryCache& cache() const { return cache_; }

  // Called after each commit for every key it changed, with the entry's
  // canonical bytes as stored (empty when the key was erased) and the
  // change's origin: how the replica learns what to rumor, without encoding
  // the entry a second time.
  using CommitObserver = std::function<void(
      std::string_view key, std::string_view encoded_entry, int origin)>;
  void set_commit_observer(CommitObserver observer) {
    observer_ = std::move(observer);
  }

  // Rebuilds everything the store keeps in memory (tree, counts, cache,
  // graves, GC floors) from the engine. For after the engine reopened
  // following a failed write: a batch reported failed may still have
  // reached the log and been replayed, so memory no longer matches the
  // disk. Refused while batch() holds changes or a batch is staged.
  Status ReloadFromDisk();
  // True after a ReloadFromDisk that did not finish: memory is partial
  // until one succeeds (the driver commits nothing until then).
  bool reload_needed() const { return reload_needed_; }

  // The batch WriteSet::Stage() made, until Written(); empty when none.
  // The writer may read it from another thread meanwhile (it is not
  // changed until Written()).
  bool has_staged() const { return !staged_.empty(); }
  const WriteBatch& staged() const { return staged_; }
  // The engine's outcome for staged(). Until this call, reads of the keys
  // it holds are served from it (the engine may not show them yet). On
  // failure the pending batch is discarded and memory is rebuilt from the
  // engine (ReloadFromDisk); the reload's status is returned.
  Status Written(const Status& written);

  // (key, entry hash) of every key in `segment`, in key order.
  Status ScanSegment(
      uint32_t segment,
      const std::function<void(std::string_view key, uint64_t hash)>& visit);

  // The entries-column key of `key`: Merkle segment (be32) ++ key.
  std::string StorageKey(std::string_view key) const;

 private:
  friend class WriteSet;
  VersionedStore(Engine& engine, const StoreOptions& options, Clock& clock);
  Status LoadIdentity(std::string_view node_id, Random& random);
  Status RebuildTree();
  Status Rekey();  // after a change of segment_bits
  Status SaveIdentity();

  // The stored state of `key`: the cache, else the staged batch, else the
  // engine.
  Result<EntryCache::Cached> Lookup(std::string_view key);
  // The staged record under `storage_key`: null when the staged batch does
  // not touch it, else the op (a delete erases the key).
  const WriteBatch::Op* StagedRecord(std::string_view storage_key) const;

  Engine& engine_;
  StoreOptions options_;
  Clock& clock_;
  Actor self_;
  bool fresh_epoch_ = false;
  bool rekey_needed_ = false;
  MerkleTree tree_;
  EntryCache cache_;
  uint64_t key_count_ = 0;
  uint64_t live_key_count_ = 0;
  uint64_t corrupt_records_ = 0;
  std::vector<std::string> corrupt_samples_;
  std::set<std::string> tombstoned_keys_;
  uint64_t tombstones_collected_ = 0;
  uint64_t keys_dropped_ = 0;
  GcState gc_;
  MemberRecord record_;
  Graves graves_;
  uint64_t corrupt_graves_ = 0;
  CommitObserver observer_;
  std::unique_ptr<WriteSet> batch_;
  bool reload_needed_ = false;
  WriteBatch staged_;
  // The staged entries-column ops, by storage key; the hints-column ones,
  // by key (WriteSet::ReadHint sees a hint being written).
  std::vector<const WriteBatch::Op*> staged_index_;
  std::map<std::string_view, const WriteBatch::Op*> staged_hints_;
};

}  // namespace gossipkv
