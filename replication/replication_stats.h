// ReplicationStats: counters of rumor mongering and anti-entropy, shown by
// INFO replication and read by benchmarks. Plain data; one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace gossipkv {

struct ReplicationStats {
  uint64_t rumor_messages_sent = 0;
  uint64_t rumor_bytes_sent = 0;
  uint64_t rumor_messages_received = 0;
  uint64_t rumor_bytes_received = 0;
  uint64_t rumor_entries_new = 0;        // merged and changed something
  uint64_t rumor_entries_duplicate = 0;  // already known
  uint64_t rumor_entries_forwarded = 0;
  uint64_t bad_entries = 0;  // from a peer, failed to decode or merge

  // Quorum writes (replication/coordinator.h).
  uint64_t quorum_writes = 0;            // coordinated here past this node
  uint64_t quorum_writes_failed = 0;     // too few owners acknowledged in time
  uint64_t replica_writes_sent = 0;      // messages to owners
  uint64_t replica_writes_resent = 0;    // unanswered halfway, sent again
  uint64_t replica_writes_received = 0;  // as an owner
  uint64_t replica_acks_received = 0;

  // Quorum reads and read repair (replication/quorum_read.h).
  uint64_t quorum_reads = 0;            // read from other owners
  uint64_t quorum_reads_failed = 0;     // too few owners answered in time
  uint64_t read_requests_sent = 0;      // messages to owners
  uint64_t read_requests_resent = 0;    // unanswered halfway, sent again
  uint64_t read_requests_received = 0;  // as an owner
  uint64_t read_repairs = 0;            // entries pushed to differing owners
  uint64_t read_repairs_skipped = 0;    // reads past max_pending_repairs

  // Partitioned storage (replication/partition_handoff.h): keys of
  // partitions this node does not own, sent to their owners and dropped.
  uint64_t handoff_keys_sent = 0;
  uint64_t handoff_keys_dropped = 0;
  uint64_t handoff_rounds_failed = 0;  // some owner did not answer in time

  // Hinted handoff (replication/hinted_handoff.h).
  uint64_t hinted_writes_sent = 0;  // ReplicaWrites to a stand-in owner
  uint64_t hints_past_window = 0;   // owner down too long: no stand-in
  uint64_t hints_stored = 0;        // entries held here for a down owner
  uint64_t hints_dropped = 0;       // past max_hint_bytes_per_owner, or
                                    // for an owner that left or is forgotten
  uint64_t hints_delivered = 0;     // acknowledged by their owner
  uint64_t hint_replays_sent = 0;   // ReplicaWrites of hints to owners
  uint64_t hint_bytes_replayed = 0;

  uint64_t ae_sessions_started = 0;
  uint64_t ae_sessions_in_sync = 0;    // roots equal at once
  uint64_t ae_sessions_repaired = 0;   // reached the entry exchange
  uint64_t ae_sessions_timed_out = 0;  // never answered: retried elsewhere
  uint64_t ae_rounds = 0;              // tree levels compared
  uint64_t ae_messages_sent = 0;
  uint64_t ae_bytes_sent = 0;
  uint64_t ae_bytes_received = 0;
  uint64_t ae_segments_compared = 0;    // leaves compared hash by hash
  uint64_t ae_keys_pushed = 0;          // entries sent to a peer
  uint64_t ae_keys_pulled = 0;          // entries received that changed ours
  uint64_t ae_entry_bytes_sent = 0;     // encoded entries inside those
  uint64_t ae_tombstones_declined = 0;  // for keys absent here (GC on)
  uint64_t ae_streams_started = 0;      // empty peers filled from a cursor
  uint64_t ae_streams_finished = 0;
  uint64_t ae_streams_cancelled = 0;     // the peer took another one
  uint64_t ae_fills_finished = 0;        // streams that filled this node
  uint64_t ae_sessions_declined = 0;     // while being filled
  uint64_t ae_entry_bytes_received = 0;  // encoded entries received
  uint64_t ae_queue_peak = 0;            // most messages waiting for budget
  uint64_t ae_messages_dropped = 0;      // waiting ones a failed commit voided,
                                         // and any over max_frame_bytes
  uint64_t ae_graves_sent = 0;       // to a peer offering a value deleted here
  uint64_t gc_rounds = 0;            // queries sent to every member
  uint64_t gc_rounds_deferred = 0;   // a member was not alive: not asked
  uint64_t gc_rounds_abandoned = 0;  // an answer or a member was missing
  uint64_t gc_tombstones_offered = 0;
  uint64_t gc_tombstones_collected = 0;
  uint64_t gc_collected_on_notice = 0;  // of those, on another's round
  uint64_t gc_queries_answered = 0;
  uint64_t gc_messages_sent = 0;  // queries and answers
  uint64_t gc_bytes_sent = 0;
  std::map<std::string, int64_t>
      ae_last_session_ms;  // peer id -> time of last session
  // peer id -> when a session last found both stores equal
  std::map<std::string, int64_t> ae_last_in_sync_ms;
};

}  // namespace gossipkv
