// Node: the INFO sections (server, clients, persistence, keyspace, peers,
// replication, membership facts come from node_cluster.cc).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "server/node.h"

namespace gossipkv {

void Node::AppendInfo(std::string_view section, std::string& out) {
  if (section == "server") {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
    out += fmt::format(
        "gossipkv_version:0.1.0\r\nnode_id:{}\r\nepoch:{:x}\r\ncluster_name:{}"
        "\r\n"
        "process_id:{}\r\ntcp_port:{}\r\npeer_port:{}\r\nuptime_in_seconds:{}"
        "\r\ndata_dir:{}\r\n"
        "durability:{}\r\nfault_injection:{}\r\n",
        config_.node_id, store_->self().epoch, config_.cluster_name, getpid(),
        listener_->port(), peers_->port(), uptime, config_.data_dir,
        config_.durability == Durability::kFsync ? "fsync" : "buffered",
        config_.fault_injection ? "on" : "off");
  } else if (section == "clients") {
    const auto& s = listener_->stats();
    out += fmt::format(
        "connected_clients:{}\r\nmaxclients:{}\r\nclient_memory_bytes:{}\r\n"
        "max_client_memory_mb:{}\r\n",
        s.connected, config_.limits.max_clients, listener_->client_memory(),
        config_.limits.max_client_memory_mb);
  } else if (section == "stats") {
    const auto& s = listener_->stats();
    out += fmt::format(
        "total_connections_received:{}\r\nrejected_connections:{}\r\nprotocol_"
        "errors:{}\r\n"
        "idle_timeouts:{}\r\ncommit_failures:{}\r\ngroup_commits:{}\r\n"
        "evicted_clients_memory:{}\r\nauth_failures:{}\r\n"
        "tls_handshake_failures:{}\r\nquorum_failures:{}\r\n",
        s.connections_received, s.rejected_max_clients, s.protocol_errors,
        s.idle_timeouts, s.commit_failures, listener_->committer().rounds(),
        s.evicted_memory, s.auth_failures, s.tls_handshake_failures,
        s.quorum_failures);
  } else if (section == "storage") {
    const auto& cache = store_->cache();
    out += fmt::format(
        "rocksdb_live_data_bytes:{}\r\nentry_cache_bytes:{}\r\nentry_cache_"
        "keys:{}\r\n"
        "entry_cache_hits:{}\r\nentry_cache_misses:{}\r\ncorrupt_records_at_"
        "open:{}\r\ncorrupt_graves_at_open:{}\r\nwal_syncs:{}\r\n"
        "disk_error:{}\r\ndisk_read_only:{}\r\ndisk_resumes:{}\r\n"
        "disk_retry_ms:{}\r\n",
        engine_->EstimateLiveBytes(), cache.bytes(), cache.size(), cache.hits(),
        cache.misses(), store_->corrupt_records(), store_->corrupt_graves(),
        engine_->WalSyncs(), engine_->Writable().message(),
        engine_->read_only() ? 1 : 0, engine_->resumes(),
        config_.disk_retry_ms);
  } else if (section == "membership") {
    AppendMembershipInfo(out);
  } else if (section == "ring") {
    AppendRingInfo(out);
  } else if (section == "peers") {
    const auto& s = peers_->stats();
    out += fmt::format(
        "peer_frames_sent:{}\r\npeer_frames_received:{}\r\npeer_bytes_sent:{}"
        "\r\n"
        "peer_bytes_received:{}\r\npeer_connections_accepted:{}\r\npeer_"
        "connects:{}\r\n"
        "peer_connect_failures:{}\r\npeer_protocol_errors:{}\r\npeer_dropped_"
        "unreachable:{}\r\n"
        "fault_dropped:{}\r\nfault_blocked:{}\r\n"
        "peers_refused_incompatible:{}\r\npeer_last_refusal:{}\r\n"
        "peer_dropped_wrong_from:{}\r\npeer_dropped_oversized:{}\r\n"
        "peer_dropped_queue_full:{}\r\npeer_connect_timeouts:{}\r\n"
        "peer_handshake_timeouts:{}\r\npeer_write_timeouts:{}\r\n"
        "peer_connections_refused:{}\r\npeer_inbound_connections:{}\r\n"
        "peer_outbound_records:{}\r\npeer_outbound_idle_closed:{}\r\n"
        "peer_tls:{}\r\npeer_tls_handshake_failures:{}\r\n"
        "peer_tls_name_mismatches:{}\r\npeer_plaintext_accepted:{}\r\n"
        "peer_plaintext_fallbacks:{}\r\n",
        s.frames_sent, s.frames_received, s.bytes_sent, s.bytes_received,
        s.connections_accepted, s.connects, s.connect_failures,
        s.protocol_errors, s.dropped_unreachable, filter_.dropped(),
        fmt::join(filter_.blocked(), ","), s.refused_incompatible,
        s.last_refusal, s.dropped_wrong_from, s.dropped_oversized,
        s.dropped_queue_full, s.connect_timeouts, s.handshake_timeouts,
        s.write_timeouts, s.connections_refused, peers_->inbound_connections(),
        peers_->outbound_records(), s.outbound_idle_closed,
        config_.peer_tls.mode == PeerTlsMode::kOn           ? "on"
        : config_.peer_tls.mode == PeerTlsMode::kPermissive ? "permissive"
                                                            : "off",
        s.tls_handshake_failures, s.tls_name_mismatches, s.plaintext_accepted,
        s.plaintext_fallbacks);
  } else if (section == "replication") {
    const auto& r = replica_->stats();
    out += fmt::format(
        "actor:{}\r\nrumor_fanout:{}\r\nanti_entropy_interval_ms:{}\r\n"
        "rumor_messages_sent:{}\r\nrumor_bytes_sent:{}\r\nrumor_messages_"
        "received:{}\r\n"
        "rumor_bytes_received:{}\r\nrumor_entries_new:{}\r\nrumor_entries_"
        "duplicate:{}\r\n"
        "rumor_entries_forwarded:{}\r\nbad_entries_from_peers:{}\r\n"
        "ae_sessions_started:{}\r\nae_sessions_in_sync:{}\r\nae_sessions_"
        "repaired:{}\r\n"
        "ae_sessions_timed_out:{}\r\nae_rounds:{}\r\nae_messages_sent:{}\r\nae_"
        "bytes_sent:{}\r\n"
        "ae_bytes_received:{}\r\nae_segments_compared:{}\r\nae_keys_pushed:{}"
        "\r\n"
        "ae_keys_pulled:{}\r\n",
        store_->self().ToString(), config_.replication.rumor_fanout,
        config_.replication.anti_entropy_interval_ms, r.rumor_messages_sent,
        r.rumor_bytes_sent, r.rumor_messages_received, r.rumor_bytes_received,
        r.rumor_entries_new, r.rumor_entries_duplicate,
        r.rumor_entries_forwarded, r.bad_entries, r.ae_sessions_started,
        r.ae_sessions_in_sync, r.ae_sessions_repaired, r.ae_sessions_timed_out,
        r.ae_rounds, r.ae_messages_sent, r.ae_bytes_sent, r.ae_bytes_received,
        r.ae_segments_compared, r.ae_keys_pushed, r.ae_keys_pulled);
    out += fmt::format(
        "gc_interval_ms:{}\r\ngc_rounds:{}\r\ngc_rounds_deferred:{}\r\n"
        "gc_rounds_abandoned:{}\r\ngc_tombstones_offered:{}\r\n"
        "tombstones_collected:{}\r\ngc_collected_on_notice:{}\r\n"
        "gc_queries_answered:{}\r\n"
        "gc_messages_sent:{}\r\ngc_bytes_sent:{}\r\n"
        "tombstones_stored:{}\r\ngraves:{}\r\ngc_floor:{}\r\n",
        config_.replication.gc_interval_ms, r.gc_rounds, r.gc_rounds_deferred,
        r.gc_rounds_abandoned, r.gc_tombstones_offered,
        r.gc_tombstones_collected, r.gc_collected_on_notice,
        r.gc_queries_answered, r.gc_messages_sent, r.gc_bytes_sent,
        store_->tombstoned_keys().size(), store_->grave_count(),
        store_->gc_floor());
    out += fmt::format(
        "write_quorum:{}\r\nrequest_timeout_ms:{}\r\nquorum_writes:{}\r\n"
        "quorum_writes_failed:{}\r\nreplica_writes_sent:{}\r\n"
        "replica_writes_resent:{}\r\nreplica_writes_received:{}\r\n"
        "replica_acks_received:{}\r\n",
        config_.replication.write_quorum,
        config_.replication.request_timeout_ms, r.quorum_writes,
        r.quorum_writes_failed, r.replica_writes_sent, r.replica_writes_resent,
        r.replica_writes_received, r.replica_acks_received);
    out += fmt::format(
        "read_quorum:{}\r\nread_repair:{}\r\nquorum_reads:{}\r\n"
        "quorum_reads_failed:{}\r\nread_requests_sent:{}\r\n"
        "read_requests_resent:{}\r\nread_requests_received:{}\r\n"
        "read_repairs:{}\r\nread_repairs_skipped:{}\r\n",
        config_.replication.read_quorum,
        config_.replication.read_repair ? "yes" : "no", r.quorum_reads,
        r.quorum_reads_failed, r.read_requests_sent, r.read_requests_resent,
        r.read_requests_received, r.read_repairs, r.read_repairs_skipped);
    const HintedHandoff* hints = replica_->hints();
    out += fmt::format(
        "hinted_handoff:{}\r\nhint_window_ms:{}\r\nhints:{}\r\n"
        "hint_bytes:{}\r\nhint_owners:{}\r\nhinted_writes_sent:{}\r\n"
        "hints_past_window:{}\r\nhints_stored:{}\r\nhints_dropped:{}\r\n"
        "hints_delivered:{}\r\nhint_replays_sent:{}\r\n"
        "hint_bytes_replayed:{}\r\n",
        config_.replication.hinted_handoff ? "yes" : "no",
        config_.replication.hint_window_ms, hints ? hints->hint_count() : 0,
        hints ? hints->hint_bytes() : 0,
        fmt::join(hints ? hints->owners() : std::vector<std::string>(), ","),
        r.hinted_writes_sent, r.hints_past_window, r.hints_stored,
        r.hints_dropped, r.hints_delivered, r.hint_replays_sent,
        r.hint_bytes_replayed);
    out += fmt::format("gc_blocked_by:{}\r\n",
                       fmt::join(replica_->GcBlockedBy(), ","));
    out += fmt::format(
        "ae_streams_started:{}\r\nae_streams_finished:{}\r\n"
        "ae_streams_cancelled:{}\r\nae_fills_finished:{}\r\n"
        "ae_sessions_declined:{}\r\nae_entry_bytes_received:{}\r\n"
        "ae_filling:{}\r\nae_queue_peak:{}\r\nae_messages_dropped:{}\r\ndriver_"
        "commits:{}\r\n"
        "driver_messages_held:{}\r\ndriver_messages_dropped:{}\r\n",
        r.ae_streams_started, r.ae_streams_finished, r.ae_streams_cancelled,
        r.ae_fills_finished, r.ae_sessions_declined, r.ae_entry_bytes_received,
        store_->member_record().fill_next.has_value() ? 1 : 0, r.ae_queue_peak,
        r.ae_messages_dropped, driver_->stats().commits,
        driver_->stats().messages_held, driver_->stats().messages_dropped);
    const int64_t now = NowMs();
    for (const auto& [peer, at] : r.ae_last_session_ms) {
      out += fmt::format("ae_last_session_{}:{}ms_ago\r\n", peer, now - at);
    }
  }
}

}  // namespace gossipkv
