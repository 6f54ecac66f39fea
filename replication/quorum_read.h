// QuorumReader: quorum reads and read repair. A client's read at level R
// asks each key's owners (cluster/ring.h) for their entries in ReadRequests,
// joins what they answer (Merge: siblings survive, so the join's clock is
// the context a VGET returns) and completes once R owners answered for
// every key — this node counts when it owns the key, with the entry it
// stores — or at the deadline with however many did. An owner's ReadReply
// describes its store, so its driver holds it until that state is durable,
// like every message that vouches for stored state.
//
// Read repair: after the completion the request waits for the remaining
// owners (up to the same deadline) and sends the joined entry, in a
// ReplicaWrite nobody answers, to every owner whose entry differed — this
// node merges it into its own batch. An owner that stores nothing is not
// sent an entry that holds only tombstones (absent reads as deleted, and
// tombstone GC may have collected it there). At most
// `max_pending_repairs` requests wait for repair; past that a completed
// read repairs nothing and is counted as skipped.
//
// A ReadRequest unanswered halfway to the deadline is sent once more
// (answers count once per owner and key). Answers count only from the
// owner asked (the sender's id is the one its connection proved).
//
// Sans I/O, one thread: owned by the Replica.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/membership.h"
#include "cluster/outbox.h"
#include "cluster/ring.h"
#include "replication/coordinator.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"

namespace gossipkv {

// One key's read: the join of the entries its owners answered with, and how
// many answered (this node included when it owns the key).
struct KeyRead {
  std::optional<Entry> entry;  // none: no owner that answered stores it
  uint32_t answered = 0;
};

class QuorumReader {
 public:
  // The reads, in the order of the keys asked.
  using Completion = std::function<void(std::vector<KeyRead>)>;

  QuorumReader(VersionedStore& store, Membership& membership, int64_t now_ms,
               CoordinatorOptions options, ReplicationStats& stats);

  // Reads `keys` from their owners in `ring`; `done` once `quorum` owners
  // answered for each (at once when that needs nobody else), else at the
  // deadline.
  void Read(int64_t now_ms, const Ring& ring,
            const std::vector<std::string>& keys, uint32_t quorum,
            Completion done, Outbox& out);
  // An owner's side: answers with its entries (read through the batch).
  void HandleRequest(const std::string& reply_to,
                     const pb::PeerMessage& message, Outbox& out);
  void HandleReply(const pb::PeerMessage& message, Outbox& out);
  // Sends again what is unanswered halfway; completes and repairs what is
  // past its deadline.
  void Tick(int64_t now_ms, Outbox& out);

  // A commit failed: what this node answered from the discarded batch may
  // never have been stored, so no pending read repairs anyone with it (the
  // driver fails the reads themselves).
  void OnCommitFailed();
  // `filling` tells whether this node is still being filled by a stream
  // (AntiEntropy::PartlyFilled): it then neither answers nor counts
  // itself, since "stores nothing" may only mean "not streamed yet".
  void set_filling(std::function<bool()> filling) {
    filling_ = std::move(filling);
  }

  size_t pending() const { return requests_.size(); }

 private:
  struct Answer {
    std::string owner;
    uint64_t hash = 0;  // of the encoded entry; 0: stores nothing
  };
  struct Key {
    std::string key;
    std::optional<Entry> joined;
    std::vector<Answer> answers;
  };
  struct Request {
    std::vector<Key> keys;
    std::vector<uint32_t> order;  // per key asked: its index in `keys`
    uint32_t quorum = 0;
    size_t short_keys = 0;  // keys still under the quorum
    size_t unanswered = 0;  // (owner, key) pairs still asked
    int64_t deadline_ms = 0;
    int64_t resend_ms = 0;
    Completion done;         // empty once completed: waiting for repair only
    bool repairing = false;  // counted in repairing_
    bool tainted = false;    // a commit failed since: repairs nobody
    std::vector<uint64_t> chunks;
  };
  struct Chunk {  // one ReadRequest: to whom, for which keys
    uint64_t request = 0;
    std::string owner;
    std::vector<uint32_t> keys;  // indexes into Request::keys
    std::vector<bool> answered;
    size_t left = 0;
    Outgoing sent;
  };
  void Answered(Request& r, uint32_t key, const std::string& owner,
                std::optional<Entry> entry, uint64_t hash);
  void Complete(Request& r);
  // Completes `request` if due, and repairs and drops it once nothing more
  // can arrive.
  void Settle(uint64_t request, bool deadline, Outbox& out);
  void Repair(const Request& r, Outbox& out);
  void Drop(std::map<uint64_t, Request>::iterator it);

  VersionedStore& store_;
  Membership& membership_;
  CoordinatorOptions options_;
  ReplicationStats& stats_;
  uint64_t next_id_;
  std::map<uint64_t, Request> requests_;  // ids grow with deadlines
  std::unordered_map<uint64_t, Chunk> chunks_;
  uint64_t resend_next_ = 0;
  size_t repairing_ = 0;  // completed requests waiting for repair
  std::function<bool()> filling_;
};

}  // namespace gossipkv
