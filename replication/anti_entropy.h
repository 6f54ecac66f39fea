// AntiEntropy: repairs whatever rumors missed by comparing Merkle trees with
// one peer at a time.
//
// Every anti_entropy_interval, and at once when a peer becomes reachable,
// a node opens a session: it sends its root; the two sides then take turns,
// each answering with its own hashes for the children of the nodes that
// differed, one tree level per message, so only differing subtrees are
// walked. At the leaves the side that found differing segments sends its
// (key, hash) list for them; the other compares with its own, sends the
// entries the first lacks or holds differently and asks for the ones it
// lacks; those come back; both sides merge. Every message is bounded by
// max_message_bytes (a tree level too big for one goes in several), and all
// anti-entropy traffic passes a token bucket of repair_bytes_per_second, so
// repair never starves clients. Identical roots end a session at once
// (AeInSync); otherwise it ends when it falls quiet for session_timeout_ms.
// A session the peer never answered is then retried with another peer.
//
// A join is one copy. An empty peer, or one holding under a tenth of the
// keys, is filled from a cursor over the segments rather than by
// descending: each Release() adds a stream's next chunk only while fewer
// than kStreamAhead of its messages wait for the repair budget and the link
// to its peer has room for a full message (link_free_bytes), so a stream of the
// whole store never sits in memory at once. The node being filled takes
// one stream: while it lasts it starts no session and declines every other
// (AeInSync busy), so the peers that all see it arrive do not each send it
// the store. It stores its fill cursor (MemberRecord::fill_next) with the
// entries of each chunk; a fill cut by a restart of either side, or fallen
// quiet, resumes from there with whichever peer it next asks. When the
// stream ends the node checks the result with an ordinary session with the
// same peer (writes made meanwhile, chunks a transport dropped).
//
// With tombstone GC on, an entry made only of tombstones is never handed to
// a peer that holds nothing for its key, nor taken from one: holding
// nothing, that peer holds nothing the tombstone would delete, and GC will
// soon remove the tombstone where it is. Otherwise a replica that has
// collected a tombstone would take it back from one that has not yet, and
// collection could chase itself around the cluster.
//
// Under partitioned storage (replication/partition_scope.h) two peers
// compare only the partitions both own: each side's tree for the session
// counts every other segment empty, key lists and streams cover shared
// segments only, and a session is opened with a peer that shares some.
// Sans I/O; one thread.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "cluster/membership.h"
#include "replication/partition_scope.h"
#include "replication/replication_stats.h"
#include "store/versioned_store.h"

namespace gossipkv {

struct AntiEntropyOptions {
  int64_t interval_ms = 10'000;  // 0: only when a peer becomes reachable
  uint32_t max_message_bytes = 1 << 20;
  uint64_t bytes_per_second = 8 << 20;
  int64_t session_timeout_ms = 10'000;
  // Bytes the transport can still queue for the peer at `address` (its
  // bound less what waits); null: no bound. Streams wait for room.
  std::function<uint64_t(const std::string& address)> link_free_bytes;
  // The largest message the transport carries; 0: no bound. A bigger one
  // (an entry whose siblings outgrew it) is dropped rather than held.
  uint64_t max_frame_bytes = 0;
  bool tombstone_gc = false;  // see above
};

class AntiEntropy {
 public:
  AntiEntropy(VersionedStore& store, const Membership& membership,
              Random& random, AntiEntropyOptions options,
              ReplicationStats& stats, int64_t now_ms,
              PartitionScope* scope = nullptr);

  void Tick(int64_t now_ms, Outbox& out);
  // Opens a session with the peer at `address` now.
  void StartWith(int64_t now_ms, const std::string& address, Outbox& out);
  void Handle(int64_t now_ms, const std::string& reply_to,
              const pb::PeerMessage& message, Outbox& out);

  // Drops the answers waiting for repair budget: they were built from the
  // store's memory, which a failed commit has just taken back (the driver
  // calls it). Their sessions time out and start again.
  void DropQueued();
  // Being filled, or holding a cursor of a fill cut short.
  bool PartlyFilled() const;

 private:
  // Stream chunks waiting for the budget before the next is read, and keys
  // read per chunk at most.
  static constexpr size_t kStreamAhead = 2;
  static constexpr size_t kStreamChunkKeys = 4096;
  static constexpr size_t kMaxFillRanges = 64;

  struct Session {
    std::string peer;
    int64_t last_activity_ms;
    bool initiator;
    bool answered = false;  // a message of it has come in
  };

  void OnTreeLevel(const std::string& peer, const pb::AeTreeLevel& level);
  void OnKeyHashes(const std::string& peer, const pb::AeKeyHashes& hashes);
  void OnEntries(const std::string& peer, const pb::AeEntries& entries);
  // The fill (see above), on the side being filled: whether to ask `peer`,
  // which holds `peer_keys`, for a stream; taking one; a stream chunk's
  // cursor; a declined session.
  bool WantsFill(uint64_t peer_keys) const;
  // How long a fill may go without a chunk before it counts as stalled: a
  // stream sends as fast as budget and link allow, so a quarter of the
  // session timeout, or four full messages' worth of budget if longer.
  int64_t FillStallMs() const;
  void TakeFill(const std::string& peer, uint64_t session);
  void OnStreamChunk(const std::string& peer, const pb::AeEntries& chunk);
  void Decline(const std::string& peer, uint64_t session);
  void OnInSync(const std::string& peer, const pb::AeInSync& in);
  // Records that this node and `peer` (an address) were found equal now.
  void NoteInSync(const std::string& peer);
  // Clears the stored fill cursor, with the next commit.
  void EndFill();
  // Sends entries for `keys` (and, first, `wanted`), split by the bound.
  // `peer_lacks`: the peer holds none of `keys`.
  // `stream_from`: the messages are a stream chunk from that segment.
  void SendEntries(const std::string& peer, uint64_t session,
                   const std::vector<std::string>& keys,
                   const std::vector<uint64_t>& wanted, bool reply,
                   bool peer_lacks = false,
                   std::optional<uint32_t> stream_from = std::nullopt);
  // Starts sending every entry of the store from segment `from` on to a
  // peer being filled, in bounded messages, from a cursor that Release()
  // advances.
  void StreamAll(const std::string& peer, uint64_t session, uint32_t from);
  // Queues the next chunk of the front stream; false when none can go now.
  bool AdvanceStream();
  pb::PeerMessage NewMessage() const;
  // The tree this node compares with the peer at `address`: the store's,
  // or under partitioned storage the part of it both own (rebuilt per
  // call; valid until the next).
  const MerkleTree& TreeFor(const std::string& address);
  // Whether `segment` is one this node shares with `address`.
  bool Shares(const std::string& address, uint32_t segment);
  // The level-0 message of `session` with `address`: this node's root and
  // key count.
  pb::PeerMessage RootMessage(const std::string& address, uint64_t session);
  void Queue(const std::string& peer, pb::PeerMessage message);
  void Release(int64_t now_ms, Outbox& out);
  std::string RandomLivePeer(const std::string& except);
  bool IsLive(const std::string& address) const;

  VersionedStore& store_;
  const Membership& membership_;
  Random& random_;
  AntiEntropyOptions options_;
  ReplicationStats& stats_;
  PartitionScope* scope_;
  std::optional<MerkleTree> shared_tree_;  // TreeFor's
  std::map<uint64_t, Session> sessions_;
  int64_t next_session_ms_;
  std::deque<Outgoing> queue_;  // waiting for repair budget
  struct Stream {
    std::string peer;
    uint64_t session;
    uint32_t next_segment = 0;
  };
  std::deque<Stream> streams_;  // empty peers being filled, round robin
  struct Fill {
    std::string peer;
    uint64_t session;
    int64_t last_ms;  // of its last message
  };
  std::optional<Fill> fill_;  // the stream filling this node
  // Chunks received past a gap in the fill: from_segment -> next_segment;
  // and chunks of which some messages are still to come.
  std::map<uint32_t, uint32_t> fill_ranges_;
  struct FillPart {
    std::set<uint32_t> indices;  // chunk_index of the messages here
    uint32_t next = 0;           // from its last message
  };
  std::map<uint32_t, FillPart> fill_parts_;
  // Peers to open a session with once the fill ends: the one that filled
  // this node (the check), and those it started or declined no session
  // with meanwhile.
  std::set<std::string> after_fill_;
  int64_t fill_ended_ms_ = 0;  // when the last stream_end came
  double tokens_;
  int64_t last_refill_ms_;

  int64_t now_ms_ = 0;
};

}  // namespace gossipkv
