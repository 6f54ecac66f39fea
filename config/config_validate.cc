// Config::Validate: the checks between fields that no single key's range
// expresses (limits that bound each other, settings that need each other).
// Run by the loaders and by whoever builds a Config in code.
#include <fmt/format.h>

#include <cctype>

#include "config/config.h"

namespace gossipkv {

Status Config::Validate() const {
  GOSSIPKV_RETURN_IF_ERROR(auth.Validate());
  if (client_tls.enabled() &&
      (client_tls.cert_file.empty() || client_tls.key_file.empty()))
    return Status::InvalidArgument(
        "client.tls_bind needs client.tls_cert_file and client.tls_key_file");
  if (!client_tls.enabled() &&
      (!client_tls.cert_file.empty() || !client_tls.key_file.empty() ||
       !client_tls.ca_cert_file.empty() || client_tls.auth_clients))
    return Status::InvalidArgument(
        "client.tls_* settings need client.tls_bind (the TLS port)");
  if (client_tls.auth_clients && client_tls.ca_cert_file.empty())
    return Status::InvalidArgument(
        "client.tls_auth_clients needs client.tls_ca_cert_file to check "
        "client certificates against");
  if (peer_tls.enabled() &&
      (peer_tls.cert_file.empty() || peer_tls.key_file.empty() ||
       peer_tls.ca_cert_file.empty()))
    return Status::InvalidArgument(
        "peer.tls needs peer.tls_cert_file, peer.tls_key_file and "
        "peer.tls_ca_cert_file (the cluster CA every peer's certificate is "
        "checked against)");
  if (!peer_tls.enabled() &&
      (!peer_tls.cert_file.empty() || !peer_tls.key_file.empty() ||
       !peer_tls.ca_cert_file.empty()))
    return Status::InvalidArgument(
        "peer.tls_* files are set but peer.tls is off: set peer.tls to "
        "\"on\" or \"permissive\"");
  // A permissive node tells TLS from plaintext by the first byte: a TLS
  // record's 0x16 must be more than any frame's length can begin with.
  if (peer_tls.mode == PeerTlsMode::kPermissive &&
      replication.max_frame_bytes >= 0x16000000u)
    return Status::InvalidArgument(fmt::format(
        "peer.tls = \"permissive\" needs replication.max_frame_bytes under "
        "{} (got {}), so a frame cannot be taken for a TLS handshake",
        0x16000000u, replication.max_frame_bytes));
  if (node_id.empty() || node_id.size() > 64) {
    return Status::InvalidArgument("node_id must be 1 to 64 characters");
  }
  for (char ch : node_id) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
          ch == '.')) {
      return Status::InvalidArgument(fmt::format(
          "node_id \"{}\" may hold only letters, digits, '-', '_' and '.'",
          node_id));
    }
  }
  if (data_dir.empty())
    return Status::InvalidArgument("data_dir must not be empty");
  if (disk_retry_ms < kMinDiskRetryMs || disk_retry_ms > kMaxDiskRetryMs) {
    return Status::InvalidArgument(
        fmt::format("storage.disk_retry_ms must be {} to {}, got {}",
                    kMinDiskRetryMs, kMaxDiskRetryMs, disk_retry_ms));
  }
  if (limits.max_key_bytes > limits.max_request_bytes ||
      limits.max_value_bytes > limits.max_request_bytes) {
    return Status::InvalidArgument(
        "limits.max_request_bytes must be at least max_key_bytes and "
        "max_value_bytes");
  }
  if (limits.max_unauthenticated_bytes > limits.max_request_bytes ||
      limits.max_unauthenticated_arguments > limits.max_arguments)
    return Status::InvalidArgument(
        "limits.max_unauthenticated_bytes and max_unauthenticated_arguments "
        "must not exceed max_request_bytes and max_arguments");
  if (limits.max_client_memory_mb != 0 &&
      uint64_t{limits.max_client_memory_mb} << 20 < limits.max_request_bytes) {
    return Status::InvalidArgument(fmt::format(
        "limits.max_client_memory_mb ({} MiB) must be 0 (unlimited) or hold "
        "one request of max_request_bytes ({} bytes)",
        limits.max_client_memory_mb, limits.max_request_bytes));
  }
  const auto& rep = replication;
  const uint64_t largest_entry = uint64_t{limits.max_key_bytes} +
                                 limits.max_value_bytes +
                                 kEntryFrameOverheadBytes;
  if (rep.max_frame_bytes < rep.max_message_bytes ||
      rep.max_frame_bytes < largest_entry) {
    return Status::InvalidArgument(fmt::format(
        "replication.max_frame_bytes ({}) must be at least max_message_bytes "
        "({}) and hold one entry of limits.max_key_bytes + max_value_bytes "
        "+ {} ({} bytes), or the largest values would never replicate",
        rep.max_frame_bytes, rep.max_message_bytes, kEntryFrameOverheadBytes,
        largest_entry));
  }
  if (rep.max_peer_queue_bytes < rep.max_frame_bytes) {
    return Status::InvalidArgument(
        fmt::format("replication.max_peer_queue_bytes ({}) must be at least "
                    "max_frame_bytes ({}), so the largest frame can be queued",
                    rep.max_peer_queue_bytes, rep.max_frame_bytes));
  }
  if (log_level != "trace" && log_level != "debug" && log_level != "info" &&
      log_level != "warn" && log_level != "error") {
    return Status::InvalidArgument(fmt::format(
        "log_level must be trace, debug, info, warn or error, got \"{}\"",
        log_level));
  }
  GOSSIPKV_RETURN_IF_ERROR(merkle.Validate());
  if (rep.partition_bits > static_cast<uint32_t>(merkle.segment_bits)) {
    return Status::InvalidArgument(fmt::format(
        "replication.partition_bits ({}) must be at most merkle.segment_bits "
        "({}): a partition is a range of whole Merkle segments",
        rep.partition_bits, merkle.segment_bits));
  }
  if (rep.write_quorum > rep.replication_factor) {
    return Status::InvalidArgument(fmt::format(
        "replication.write_quorum ({}) must be at most replication_factor "
        "({}): a write cannot wait for more owners than a key has",
        rep.write_quorum, rep.replication_factor));
  }
  if (rep.read_quorum > rep.replication_factor) {
    return Status::InvalidArgument(fmt::format(
        "replication.read_quorum ({}) must be at most replication_factor "
        "({}): a read cannot wait for more owners than a key has",
        rep.read_quorum, rep.replication_factor));
  }
  if (rep.hinted_handoff &&
      (uint64_t{rep.max_hint_mb_per_owner} << 20) < largest_entry) {
    return Status::InvalidArgument(fmt::format(
        "replication.max_hint_mb_per_owner ({} MiB) must hold one entry of "
        "the largest key and value ({} bytes)",
        rep.max_hint_mb_per_owner, largest_entry));
  }
  return Status::Ok();
}

}  // namespace gossipkv
