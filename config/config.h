// Config: every setting of a gossipkv node, loaded from TOML and validated.
//
// Each field has a default that works for a single node on a laptop; the
// commented example config/gossipkv.example.toml lists them all with the
// trade-off each makes. Loading rejects unknown keys, wrong types and
// out-of-range values with a message naming the key and its line.
// Plain data after loading; any thread may read a Config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/auth_config.h"
#include "storage/durability.h"
#include "store/merkle_shape.h"
#include "util/status.h"
#include "versioning/conflict_mode.h"

namespace gossipkv {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string ToString() const;
  bool operator==(const Endpoint&) const = default;
};
// "host:port" (IPv6 as "[::1]:7000"); port 0 means "pick a free port".
Result<Endpoint> ParseEndpoint(std::string_view text);

struct ClientLimits {
  uint32_t max_key_bytes = 64 * 1024;  // Cassandra's key bound
  uint32_t max_value_bytes =
      16 * 1024 * 1024;                // larger values belong in a blob store
  uint32_t max_arguments = 64 * 1024;  // MSET of 32k pairs
  uint32_t max_request_bytes = 64 * 1024 * 1024;  // all bulks of one command
  uint32_t max_inline_bytes = 64 * 1024;  // as Redis's PROTO_INLINE_MAX_SIZE
  uint32_t max_clients = 10000;           // as Redis's maxclients
  uint32_t idle_timeout_ms =
      300'000;  // no complete command for this long: close
  uint32_t max_reply_bytes = 64 * 1024 * 1024;  // one reply (MGET, VGET)
  // While AUTH is required and not yet given, as Redis: a request of at
  // most this many arguments and bytes, so a stranger cannot make the
  // node buffer max_request_bytes.
  uint32_t max_unauthenticated_arguments = 10;
  uint32_t max_unauthenticated_bytes = 16 * 1024;
  // All client sessions' buffered bytes (partial requests, pending
  // replies), as Redis's maxmemory-clients; past it the largest are closed.
  // 0: unlimited. At least max_request_bytes, so one full request fits.
  uint32_t max_client_memory_mb = 1024;
};

// TLS for clients ([client] tls_*): off while tls_bind is unset. Clients
// may present a certificate, checked against tls_ca_cert_file; with
// tls_auth_clients they must (Redis's tls-auth-clients).
struct ClientTlsSettings {
  Endpoint bind{"", 0};  // empty host: no TLS port
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
  bool auth_clients = false;
  uint32_t handshake_timeout_ms = 5000;

  bool enabled() const { return !bind.host.empty(); }
};

// Peer connections ([peer]). Outbound connections must connect, and their
// handshake be answered, within the timeouts; a write that does not finish
// within write_timeout_ms closes the connection (a peer that stopped
// reading). Inbound connections must open with their handshake within
// handshake_timeout_ms, and at most max_connections are served at once.
// An outbound connection with nothing to send for idle_close_ms is closed
// and its record dropped (a departed or forgotten peer's address).
struct PeerLimits {
  uint32_t connect_timeout_ms = 3000;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t write_timeout_ms = 30'000;
  uint32_t max_connections = 512;  // inbound; two per peer (see transport)
  uint32_t idle_close_ms = 300'000;
};

// Mutual TLS between peers ([peer] tls, tls_*). Every connection, both
// ways, presents a certificate issued by tls_ca_cert_file whose name (a DNS
// subject alternative name, else the common name) is the node id it claims.
// kPermissive accepts plaintext and TLS connections, and dials TLS with a
// plaintext retry for a peer that closes at once (one still off), so a
// running cluster can switch node by node: all nodes to permissive, then
// each to on.
enum class PeerTlsMode { kOff, kPermissive, kOn };
struct PeerTlsSettings {
  PeerTlsMode mode = PeerTlsMode::kOff;
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
  bool enabled() const { return mode != PeerTlsMode::kOff; }
};

// Prometheus metrics ([metrics]): GET /metrics over HTTP on `bind`, off
// while it is unset. At most max_connections scrapes are served at once;
// a request must arrive whole, within max_request_bytes, in
// request_timeout_ms.
struct MetricsSettings {
  Endpoint bind{"", 0};
  uint32_t max_connections = 16;
  uint32_t request_timeout_ms = 10'000;
  uint32_t max_request_bytes = 8192;
  bool enabled() const { return !bind.host.empty(); }
};

struct GossipSettings {
  uint32_t interval_ms = 1000;
  uint32_t fanout = 3;
  double phi_threshold = 8.0;
  uint32_t dead_after_ms = 30'000;  // suspect this long -> dead
};

struct ReplicationSettings {
  // The ring (cluster/ring.h): N replicas per partition, of 2^bits
  // partitions; every member must agree on both.
  uint32_t replication_factor = 3;
  uint32_t partition_bits = 14;
  // Owners a client's write waits for (1: this node's disk only; at most
  // replication_factor), and for how long before it is answered
  // -NOREPLICAS.
  uint32_t write_quorum = 1;
  // Owners a client's read asks and joins (1: this node's replica only; at
  // most replication_factor); a read past this node repairs the owners
  // that differ, at most max_pending_repairs reads waiting to.
  uint32_t read_quorum = 1;
  bool read_repair = true;
  uint32_t max_pending_repairs = 1024;
  // Sloppy quorum (replication/hinted_handoff.h): a write stands in the
  // next live node for an owner down at most hint_window_ms, which holds a
  // hint (at most max_hint_mb_per_owner of them per owner, at least one of
  // the largest entries) and replays it once the owner is back.
  bool hinted_handoff = true;
  uint32_t hint_window_ms = 3 * 3600 * 1000;
  uint32_t max_hint_mb_per_owner = 256;
  uint32_t hint_replay_bytes_per_second = 4 << 20;
  uint32_t request_timeout_ms = 2000;
  uint32_t rumor_fanout = 3;
  uint32_t anti_entropy_interval_ms = 10'000;
  // Entries are batched into messages up to this size; a message always
  // holds at least one entry, so one entry larger than this goes alone.
  uint32_t max_message_bytes = 1 << 20;
  uint32_t repair_bytes_per_second = 8 << 20;
  // Peer frames, checked before allocating. At least max_message_bytes and
  // one entry of the largest key and value (kEntryFrameOverheadBytes more).
  uint32_t max_frame_bytes = 17 << 20;
  // Bytes queued for one peer; at least max_frame_bytes. Past it, repair
  // waits for room and rumors drop (anti-entropy repairs what they carry).
  uint32_t max_peer_queue_bytes = 17 << 20;
  uint32_t gc_interval_ms = 30'000;  // tombstone GC rounds; 0 disables
  uint32_t gc_batch_keys = 1000;     // tombstones offered per round
  uint32_t max_graves = 100'000;     // collected tombstones remembered
  // Younger graves are kept beyond max_graves: at least the GC round
  // timeout (10 s) plus the longest a peer message can be delayed.
  uint32_t grave_min_age_ms = 60'000;
};

// What a peer frame needs beyond one entry's key and value bytes: the
// entry's clock and dots, the message's fields, the length prefix.
inline constexpr uint32_t kEntryFrameOverheadBytes = 64 << 10;

// storage.disk_retry_ms: from ten tries a second to one an hour.
inline constexpr uint32_t kMinDiskRetryMs = 10;
inline constexpr uint32_t kMaxDiskRetryMs = 3'600'000;

struct Config {
  std::string node_id = "n1";
  std::string cluster_name = "gossipkv";
  std::string data_dir = "./gossipkv-data";
  Endpoint client_bind{"127.0.0.1", 7379};
  Endpoint client_advertise;  // empty host: same as client_bind
  Endpoint peer_bind{"127.0.0.1", 7380};
  Endpoint peer_advertise;
  PeerLimits peer;
  PeerTlsSettings peer_tls;
  std::vector<Endpoint> seeds;

  Durability durability = Durability::kFsync;
  uint32_t block_cache_mb = 64;
  uint32_t entry_cache_mb = 64;
  uint32_t write_buffer_mb = 16;
  // While the disk refuses writes (full or failing), how often the node
  // tries to write again; writes are refused in between.
  uint32_t disk_retry_ms = 1000;
  ConflictMode conflict_mode = ConflictMode::kSiblings;
  MerkleShape merkle;

  GossipSettings gossip;
  ReplicationSettings replication;
  ClientLimits limits;
  ClientTlsSettings client_tls;
  AuthSettings auth;
  MetricsSettings metrics;
  bool fault_injection = false;
  std::string log_level = "info";

  // Cross-field checks (also run by the loaders).
  Status Validate() const;
};

// The largest entry (key and encoded entry) a client write may make: what
// one peer frame carries, less room for the message around it.
inline size_t MaxEntryBytes(const Config& config) {
  return config.replication.max_frame_bytes - kEntryFrameOverheadBytes / 2;
}

// Loads a TOML file over the defaults.
Result<Config> LoadConfigFile(const std::string& path);
// Loads TOML text; `source_name` appears in error messages.
Result<Config> LoadConfigText(std::string_view text,
                              std::string_view source_name = "config");

}  // namespace gossipkv
