// Config loading: defaults, overrides, and errors that name key and line.
#include "config/config.h"

#include <gtest/gtest.h>

namespace gossipkv {
namespace {

void ExpectError(std::string_view toml, std::string_view fragment) {
  auto config = LoadConfigText(toml, "test.toml");
  ASSERT_FALSE(config) << "accepted: " << toml;
  EXPECT_NE(config.error().message().find(fragment), std::string::npos)
      << "message: " << config.error().message();
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  auto config = LoadConfigText("");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->node_id, "n1");
  EXPECT_EQ(config->client_bind, (Endpoint{"127.0.0.1", 7379}));
  EXPECT_EQ(config->durability, Durability::kFsync);
  EXPECT_EQ(config->merkle, (MerkleShape{16, 4}));
  EXPECT_EQ(config->limits.max_clients, 10000u);
  EXPECT_FALSE(config->fault_injection);
  EXPECT_EQ(config->disk_retry_ms, 1000u);
}

TEST(ConfigTest, EveryFieldIsRead) {
  auto config = LoadConfigText(R"(
node_id = "alpha"
cluster_name = "test"
data_dir = "/tmp/x"
seeds = ["127.0.0.1:7001", "[::1]:7002"]
fault_injection = true
log_level = "debug"
[client]
bind = "0.0.0.0:6000"
[peer]
bind = "127.0.0.1:6001"
advertise = "10.0.0.1:6001"
[storage]
durability = "buffered"
conflict = "lww"
block_cache_mb = 8
entry_cache_mb = 0
disk_retry_ms = 250
[merkle]
segment_bits = 12
fanout = 8
[gossip]
interval_ms = 200
fanout = 2
phi_threshold = 10.5
dead_after_ms = 5000
[replication]
replication_factor = 2
partition_bits = 12
rumor_fanout = 4
anti_entropy_interval_ms = 0
[limits]
max_key_bytes = 100
max_value_bytes = 1000
max_clients = 5
idle_timeout_ms = 0
)");
  ASSERT_TRUE(config) << config.error().ToString();
  // Every key above, each set away from its default.
  EXPECT_EQ(config->node_id, "alpha");
  EXPECT_EQ(config->cluster_name, "test");
  EXPECT_EQ(config->data_dir, "/tmp/x");
  ASSERT_EQ(config->seeds.size(), 2u);
  EXPECT_EQ(config->seeds[0], (Endpoint{"127.0.0.1", 7001}));
  EXPECT_EQ(config->seeds[1], (Endpoint{"::1", 7002}));
  EXPECT_TRUE(config->fault_injection);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->client_bind, (Endpoint{"0.0.0.0", 6000}));
  EXPECT_EQ(config->peer_bind, (Endpoint{"127.0.0.1", 6001}));
  EXPECT_EQ(config->peer_advertise, (Endpoint{"10.0.0.1", 6001}));
  EXPECT_EQ(config->durability, Durability::kBuffered);
  EXPECT_EQ(config->conflict_mode, ConflictMode::kLastWriteWins);
  EXPECT_EQ(config->block_cache_mb, 8u);
  EXPECT_EQ(config->entry_cache_mb, 0u);
  EXPECT_EQ(config->disk_retry_ms, 250u);
  EXPECT_EQ(config->merkle, (MerkleShape{12, 3}));
  EXPECT_EQ(config->gossip.interval_ms, 200u);
  EXPECT_EQ(config->gossip.fanout, 2u);
  EXPECT_DOUBLE_EQ(config->gossip.phi_threshold, 10.5);
  EXPECT_EQ(config->gossip.dead_after_ms, 5000u);
  EXPECT_EQ(config->replication.rumor_fanout, 4u);
  EXPECT_EQ(config->replication.replication_factor, 2u);
  EXPECT_EQ(config->replication.partition_bits, 12u);
  EXPECT_EQ(config->replication.anti_entropy_interval_ms, 0u);
  EXPECT_EQ(config->limits.max_key_bytes, 100u);
  EXPECT_EQ(config->limits.max_value_bytes, 1000u);
  EXPECT_EQ(config->limits.max_clients, 5u);
  EXPECT_EQ(config->limits.idle_timeout_ms, 0u);
}

TEST(ConfigTest, UnknownKeysAreErrorsWithTheirLine) {
  ExpectError("node_id = \"a\"\nnodeid = \"b\"\n",
              "test.toml:2: unknown key 'nodeid'");
  ExpectError("[limits]\n\nmax_clientz = 3\n",
              "test.toml:3: unknown key 'limits.max_clientz'");
  ExpectError("[nonsense]\nx = 1\n", "unknown key 'nonsense'");
}

TEST(ConfigTest, WrongTypesAreErrors) {
  ExpectError("node_id = 5\n", "test.toml:1: 'node_id' must be a string");
  ExpectError("[limits]\nmax_clients = \"many\"\n",
              "test.toml:2: 'limits.max_clients' must be an integer");
  ExpectError("client = 3\n", "'client' must be a table");
  ExpectError("seeds = \"127.0.0.1:1\"\n", "'seeds' must be an array");
}

TEST(ConfigTest, OutOfRangeValuesAreErrors) {
  ExpectError(
      "[limits]\nmax_clients = 0\n",
      "test.toml:2: 'limits.max_clients' must be in [1, 1000000], got 0");
  ExpectError("[merkle]\nfanout = 12\n", "power of two");
  ExpectError("[merkle]\nsegment_bits = 16\nfanout = 8\n",
              "multiple of log2(fanout)");
  ExpectError("[merkle]\nsegment_bits = 12\nfanout = 8\n",
              "replication.partition_bits (14) must be at most "
              "merkle.segment_bits (12)");
  ExpectError("[replication]\nreplication_factor = 0\n",
              "'replication.replication_factor' must be in [1, 255]");
  ExpectError("[replication]\nreplication_factor = 2\nwrite_quorum = 3\n",
              "replication.write_quorum (3) must be at most "
              "replication_factor (2)");
  ExpectError("[replication]\nreplication_factor = 2\nread_quorum = 3\n",
              "replication.read_quorum (3) must be at most "
              "replication_factor (2)");
  ExpectError("[replication]\nmax_hint_mb_per_owner = 16\n",
              "replication.max_hint_mb_per_owner (16 MiB) must hold one entry "
              "of the largest key and value (16908288 bytes)");
  ExpectError("[replication]\nmax_pending_repairs = 0\n",
              "'replication.max_pending_repairs' must be in [1, 1000000]");
  ExpectError("[storage]\ndurability = \"sometimes\"\n",
              "'storage.durability' must be");
  ExpectError("[client]\nbind = \"localhost\"\n", "expected host:port");
  ExpectError("node_id = \"bad id!\"\n", "node_id");
  ExpectError("[gossip]\nphi_threshold = -1.0\n",
              "'gossip.phi_threshold' must be in");
  ExpectError("[storage]\ndisk_retry_ms = 0\n",
              "test.toml:2: 'storage.disk_retry_ms' must be in [10, 3600000]");
}

TEST(ConfigTest, ValidateChecksTheDiskRetryInterval) {
  Config config;
  EXPECT_TRUE(config.Validate().ok());
  config.disk_retry_ms = 5;
  Status status = config.Validate();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(
      status.message().find("storage.disk_retry_ms must be 10 to 3600000"),
      std::string::npos)
      << status.message();
  config.disk_retry_ms = 3'600'001;
  EXPECT_FALSE(config.Validate().ok());
}

TEST(ConfigTest, ClientMemoryBudgetHoldsOneRequest) {
  EXPECT_EQ(LoadConfigText("")->limits.max_client_memory_mb, 1024u);
  ExpectError("[limits]\nmax_client_memory_mb = 1\n",
              "limits.max_client_memory_mb (1 MiB) must be 0 (unlimited) or "
              "hold one request of max_request_bytes (67108864 bytes)");
  auto small = LoadConfigText(
      "[limits]\nmax_client_memory_mb = 1\nmax_request_bytes = 1048576\n"
      "max_value_bytes = 1048576\n");
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_EQ(small->limits.max_client_memory_mb, 1u);
  EXPECT_TRUE(LoadConfigText("[limits]\nmax_client_memory_mb = 0\n"));
}

// frame >= message and frame >= the largest entry; queue >= frame.
TEST(ConfigTest, UsersAndRequirepassAreReadAndChecked) {
  const std::string hashed =
      "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
  auto c = LoadConfigText("[client]\nrequirepass = \"" + hashed +
                          "\"\n[[users]]\nname = \"alice\"\npassword = \"" +
                          hashed + "\"\nrole = \"write\"\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->auth.requirepass, hashed);
  ASSERT_EQ(c->auth.users.size(), 1u);
  EXPECT_EQ(c->auth.users[0].name, "alice");
  EXPECT_EQ(c->auth.users[0].role, Role::kWrite);

  auto user = [&](const std::string& body) {
    return LoadConfigText("[[users]]\n" + body);
  };
  auto plain = user("name = \"a\"\npassword = \"secret\"\n");
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message().find("stored hashed"), std::string::npos);
  auto role =
      user("name = \"a\"\npassword = \"" + hashed + "\"\nrole = \"root\"\n");
  ASSERT_FALSE(role);
  EXPECT_NE(role.error().message().find("read, write or admin"),
            std::string::npos);
  auto twice = LoadConfigText("[[users]]\nname = \"a\"\npassword = \"" +
                              hashed + "\"\n[[users]]\nname = \"a\"\n" +
                              "password = \"" + hashed + "\"\n");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("twice"), std::string::npos);
  auto reserved = user("name = \"default\"\npassword = \"" + hashed + "\"\n");
  EXPECT_FALSE(reserved);
  auto unknown = user("name = \"a\"\npasswd = \"x\"\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("users.passwd"), std::string::npos);
}

TEST(ConfigTest, PeerBoundsHoldTheLargestEntry) {
  auto defaults = LoadConfigText("");
  ASSERT_TRUE(defaults);
  EXPECT_GE(defaults->replication.max_frame_bytes,
            defaults->limits.max_value_bytes + defaults->limits.max_key_bytes);
  ExpectError("[replication]\nmax_frame_bytes = 16777216\n",
              "replication.max_frame_bytes (16777216) must be at least "
              "max_message_bytes (1048576) and hold one entry of "
              "limits.max_key_bytes + max_value_bytes + 65536 (16908288 "
              "bytes)");
  ExpectError(
      "[replication]\nmax_frame_bytes = 1048576\nmax_message_bytes = "
      "2097152\n[limits]\nmax_value_bytes = 4096\n",
      "replication.max_frame_bytes (1048576) must be at least "
      "max_message_bytes (2097152)");
  ExpectError("[replication]\nmax_peer_queue_bytes = 1048576\n",
              "replication.max_peer_queue_bytes (1048576) must be at least "
              "max_frame_bytes (17825792)");
  auto small = LoadConfigText(
      "[replication]\nmax_frame_bytes = 1048576\nmax_peer_queue_bytes = "
      "1048576\n[limits]\nmax_value_bytes = 900000\n");
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_EQ(MaxEntryBytes(*small), 1048576u - 32768u);
}

TEST(ConfigTest, SyntaxErrorsNameTheLine) {
  ExpectError("node_id = \"a\"\n[client\n", "test.toml:2:");
}

TEST(ConfigTest, ExampleFileLoads) {
  auto config =
      LoadConfigFile(GOSSIPKV_SOURCE_DIR "/config/gossipkv.example.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->node_id, "n1");
}

TEST(ConfigTest, MissingFileIsAnError) {
  EXPECT_FALSE(LoadConfigFile("/nonexistent/gossipkv.toml"));
}

}  // namespace
TEST(ConfigTest, MetricsAndPeerTlsAreReadAndChecked) {
  auto c = LoadConfigText(
      "[metrics]\nbind = \"127.0.0.1:9121\"\nmax_connections = 4\n"
      "[peer]\ntls = \"permissive\"\ntls_cert_file = \"n1.crt\"\n"
      "tls_key_file = \"n1.key\"\ntls_ca_cert_file = \"ca.crt\"\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->metrics.enabled());
  EXPECT_EQ(c->metrics.bind.port, 9121);
  EXPECT_EQ(c->metrics.max_connections, 4u);
  EXPECT_EQ(c->peer_tls.mode, PeerTlsMode::kPermissive);
  EXPECT_EQ(c->peer_tls.ca_cert_file, "ca.crt");
  EXPECT_FALSE(LoadConfigText("")->metrics.enabled());

  auto mode = LoadConfigText("[peer]\ntls = \"yes\"\n");
  ASSERT_FALSE(mode);
  EXPECT_NE(mode.error().message().find("\"permissive\""), std::string::npos);
  auto no_ca = LoadConfigText(
      "[peer]\ntls = \"on\"\ntls_cert_file = \"a\"\ntls_key_file = \"b\"\n");
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().message().find("tls_ca_cert_file"),
            std::string::npos);
  auto off = LoadConfigText("[peer]\ntls_cert_file = \"a\"\n");
  ASSERT_FALSE(off);
  EXPECT_NE(off.error().message().find("peer.tls is off"), std::string::npos);
  // Permissive mode tells TLS from a frame by its first byte.
  auto big = LoadConfigText(
      "[peer]\ntls = \"permissive\"\ntls_cert_file = \"a\"\n"
      "tls_key_file = \"b\"\ntls_ca_cert_file = \"c\"\n"
      "[replication]\nmax_frame_bytes = 400000000\n"
      "max_peer_queue_bytes = 400000000\n");
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message().find("max_frame_bytes under"),
            std::string::npos);
  EXPECT_FALSE(LoadConfigText("[metrics]\nmax_connections = 0\n"));
  EXPECT_FALSE(LoadConfigText("[metrics]\nport = 1\n"));  // unknown key
}

}  // namespace gossipkv
