// TOML -> Config with toml++. Each known key is consumed from its table as it
// is read; whatever remains afterwards is an unknown key and an error. toml++
// reports parse errors by exception: they are caught here and never leave
// this file.
#include "config/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <limits>

namespace gossipkv {
namespace {

std::string Where(const toml::node& node, std::string_view source) {
  const auto& begin = node.source().begin;
  return fmt::format("{}:{}", source, begin.line);
}

// Reads keys out of one table, removing each as it goes.
class TableReader {
 public:
  TableReader(toml::table& table, std::string prefix, std::string_view source)
      : table_(table), prefix_(std::move(prefix)), source_(source) {}

  Status Str(std::string_view key, std::string& out) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      auto v = n.value<std::string>();
      if (!n.is_string() || !v) return TypeError(n, name, "a string");
      out = *v;
      return Status::Ok();
    });
  }

  Status Bool(std::string_view key, bool& out) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      if (!n.is_boolean()) return TypeError(n, name, "true or false");
      out = *n.value<bool>();
      return Status::Ok();
    });
  }

  template <typename T>
  Status Int(std::string_view key, T& out, int64_t min, int64_t max) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      if (!n.is_integer()) return TypeError(n, name, "an integer");
      int64_t v = *n.value<int64_t>();
      if (v < min || v > max) {
        return Status::InvalidArgument(
            fmt::format("{}: '{}' must be in [{}, {}], got {}",
                        Where(n, source_), name, min, max, v));
      }
      out = static_cast<T>(v);
      return Status::Ok();
    });
  }

  Status Double(std::string_view key, double& out, double min, double max) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      if (!n.is_number()) return TypeError(n, name, "a number");
      double v = *n.value<double>();
      if (!(v >= min && v <= max)) {
        return Status::InvalidArgument(
            fmt::format("{}: '{}' must be in [{}, {}], got {}",
                        Where(n, source_), name, min, max, v));
      }
      out = v;
      return Status::Ok();
    });
  }

  Status Address(std::string_view key, Endpoint& out) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      if (!n.is_string()) return TypeError(n, name, "a \"host:port\" string");
      auto parsed = ParseEndpoint(*n.value<std::string>());
      if (!parsed) {
        return Status::InvalidArgument(fmt::format(
            "{}: '{}': {}", Where(n, source_), name, parsed.error().message()));
      }
      out = *parsed;
      return Status::Ok();
    });
  }

  Status AddressList(std::string_view key, std::vector<Endpoint>& out) {
    return Take(key, [&](toml::node& n, const std::string& name) -> Status {
      auto* array = n.as_array();
      if (array == nullptr)
        return TypeError(n, name, "an array of \"host:port\" strings");
      out.clear();
      for (auto& item : *array) {
        auto text = item.value<std::string>();
        if (!item.is_string() || !text)
          return TypeError(item, name, "\"host:port\" strings");
        auto parsed = ParseEndpoint(*text);
        if (!parsed) {
          return Status::InvalidArgument(fmt::format("{}: '{}': {}",
                                                     Where(item, source_), name,
                                                     parsed.error().message()));
        }
        out.push_back(*parsed);
      }
      return Status::Ok();
    });
  }

  // A sub-table, removed from this one; nullptr if absent.
  Result<toml::table*> SubTable(std::string_view key) {
    toml::node* n = table_.get(key);
    if (n == nullptr) return static_cast<toml::table*>(nullptr);
    if (!n->is_table()) return TypeError(*n, Name(key), "a table");
    return n->as_table();
  }

  // Everything left over is a key this build does not know.
  Status RejectRest(const std::vector<std::string_view>& tables_ok) {
    for (auto& [k, v] : table_) {
      bool allowed = false;
      for (auto t : tables_ok) allowed |= (k.str() == t);
      if (!allowed) {
        return Status::InvalidArgument(fmt::format(
            "{}: unknown key '{}'", Where(v, source_), Name(k.str())));
      }
    }
    return Status::Ok();
  }

 private:
  std::string Name(std::string_view key) const {
    return prefix_.empty() ? std::string(key)
                           : prefix_ + "." + std::string(key);
  }

  template <typename F>
  Status Take(std::string_view key, F&& read) {
    toml::node* n = table_.get(key);
    if (n == nullptr) return Status::Ok();  // keep the default
    Status s = read(*n, Name(key));
    table_.erase(key);
    return s;
  }

  Status TypeError(const toml::node& n, const std::string& name,
                   std::string_view expected) {
    return Status::InvalidArgument(
        fmt::format("{}: '{}' must be {}", Where(n, source_), name, expected));
  }

  toml::table& table_;
  std::string prefix_;
  std::string_view source_;
};

constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// [[users]]: each table a name, a hashed password and a role.
Status ReadUsers(toml::node& users, std::string_view source,
                 AuthSettings& out) {
  toml::array* array = users.as_array();
  if (array == nullptr || !array->is_array_of_tables())
    return Status::InvalidArgument(
        fmt::format("{}: 'users' must be an array of tables ([[users]])",
                    Where(users, source)));
  for (toml::node& n : *array) {
    TableReader r(*n.as_table(), "users", source);
    User user;
    std::string role = "read";
    GOSSIPKV_RETURN_IF_ERROR(r.Str("name", user.name));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("password", user.password));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("role", role));
    GOSSIPKV_RETURN_IF_ERROR(r.RejectRest({}));
    if (role == "read") {
      user.role = Role::kRead;
    } else if (role == "write") {
      user.role = Role::kWrite;
    } else if (role == "admin") {
      user.role = Role::kAdmin;
    } else {
      return Status::InvalidArgument(
          fmt::format("{}: users.role must be read, write or admin, not \"{}\"",
                      Where(n, source), role));
    }
    out.users.push_back(std::move(user));
  }
  return Status::Ok();
}

Status ReadConfig(toml::table& root, std::string_view source, Config& c) {
  TableReader top(root, "", source);
  GOSSIPKV_RETURN_IF_ERROR(top.Str("node_id", c.node_id));
  GOSSIPKV_RETURN_IF_ERROR(top.Str("cluster_name", c.cluster_name));
  GOSSIPKV_RETURN_IF_ERROR(top.Str("data_dir", c.data_dir));
  GOSSIPKV_RETURN_IF_ERROR(top.AddressList("seeds", c.seeds));
  GOSSIPKV_RETURN_IF_ERROR(top.Bool("fault_injection", c.fault_injection));
  GOSSIPKV_RETURN_IF_ERROR(top.Str("log_level", c.log_level));

  auto section = [&](std::string_view name, auto&& read) -> Status {
    auto table = top.SubTable(name);
    if (!table) return table.error();
    if (*table == nullptr) return Status::Ok();
    TableReader r(**table, std::string(name), source);
    GOSSIPKV_RETURN_IF_ERROR(read(r));
    GOSSIPKV_RETURN_IF_ERROR(r.RejectRest({}));
    root.erase(name);
    return Status::Ok();
  };

  GOSSIPKV_RETURN_IF_ERROR(section("client", [&](TableReader& r) -> Status {
    GOSSIPKV_RETURN_IF_ERROR(r.Str("requirepass", c.auth.requirepass));
    auto& tls = c.client_tls;
    GOSSIPKV_RETURN_IF_ERROR(r.Address("tls_bind", tls.bind));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls_cert_file", tls.cert_file));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls_key_file", tls.key_file));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls_ca_cert_file", tls.ca_cert_file));
    GOSSIPKV_RETURN_IF_ERROR(r.Bool("tls_auth_clients", tls.auth_clients));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("tls_handshake_timeout_ms",
                                   tls.handshake_timeout_ms, 10, 600'000));
    GOSSIPKV_RETURN_IF_ERROR(r.Address("bind", c.client_bind));
    return r.Address("advertise", c.client_advertise);
  }));
  GOSSIPKV_RETURN_IF_ERROR(section("peer", [&](TableReader& r) -> Status {
    GOSSIPKV_RETURN_IF_ERROR(r.Address("bind", c.peer_bind));
    GOSSIPKV_RETURN_IF_ERROR(r.Address("advertise", c.peer_advertise));
    auto& p = c.peer;
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("connect_timeout_ms", p.connect_timeout_ms, 10, 600'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("handshake_timeout_ms", p.handshake_timeout_ms, 10, 600'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("write_timeout_ms", p.write_timeout_ms, 10, 3'600'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("idle_close_ms", p.idle_close_ms, 100, 86'400'000));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls_cert_file", c.peer_tls.cert_file));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls_key_file", c.peer_tls.key_file));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Str("tls_ca_cert_file", c.peer_tls.ca_cert_file));
    std::string mode;
    GOSSIPKV_RETURN_IF_ERROR(r.Str("tls", mode));
    if (mode == "on") {
      c.peer_tls.mode = PeerTlsMode::kOn;
    } else if (mode == "permissive") {
      c.peer_tls.mode = PeerTlsMode::kPermissive;
    } else if (!mode.empty() && mode != "off") {
      return Status::InvalidArgument(fmt::format(
          "{}: 'peer.tls' must be \"off\", \"permissive\" or \"on\", got "
          "\"{}\"",
          source, mode));
    }
    return r.Int("max_connections", p.max_connections, 2, 1'000'000);
  }));
  GOSSIPKV_RETURN_IF_ERROR(section("metrics", [&](TableReader& r) -> Status {
    auto& m = c.metrics;
    GOSSIPKV_RETURN_IF_ERROR(r.Address("bind", m.bind));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_connections", m.max_connections, 1, 10'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("request_timeout_ms", m.request_timeout_ms, 10, 600'000));
    return r.Int("max_request_bytes", m.max_request_bytes, 256, 1 << 20);
  }));
  GOSSIPKV_RETURN_IF_ERROR(section("storage", [&](TableReader& r) -> Status {
    std::string durability, conflict;
    GOSSIPKV_RETURN_IF_ERROR(r.Str("durability", durability));
    GOSSIPKV_RETURN_IF_ERROR(r.Str("conflict", conflict));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("block_cache_mb", c.block_cache_mb, 1, 1 << 20));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("entry_cache_mb", c.entry_cache_mb, 0, 1 << 20));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("write_buffer_mb", c.write_buffer_mb, 1, 4096));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("disk_retry_ms", c.disk_retry_ms,
                                   kMinDiskRetryMs, kMaxDiskRetryMs));
    if (durability == "fsync")
      c.durability = Durability::kFsync;
    else if (durability == "buffered")
      c.durability = Durability::kBuffered;
    else if (!durability.empty()) {
      return Status::InvalidArgument(
          fmt::format("{}: 'storage.durability' must be \"fsync\" or "
                      "\"buffered\", got \"{}\"",
                      source, durability));
    }
    if (conflict == "siblings")
      c.conflict_mode = ConflictMode::kSiblings;
    else if (conflict == "lww")
      c.conflict_mode = ConflictMode::kLastWriteWins;
    else if (!conflict.empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}: 'storage.conflict' must be \"siblings\" or \"lww\", got \"{}\"",
          source, conflict));
    }
    return Status::Ok();
  }));
  GOSSIPKV_RETURN_IF_ERROR(section("merkle", [&](TableReader& r) -> Status {
    uint32_t fanout = 1u << c.merkle.fanout_bits;
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("segment_bits", c.merkle.segment_bits, 1, 24));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("fanout", fanout, 2, 256));
    if ((fanout & (fanout - 1)) != 0) {
      return Status::InvalidArgument(
          fmt::format("{}: 'merkle.fanout' must be a power of two, got {}",
                      source, fanout));
    }
    c.merkle.fanout_bits = std::countr_zero(fanout);
    return Status::Ok();
  }));
  GOSSIPKV_RETURN_IF_ERROR(section("gossip", [&](TableReader& r) -> Status {
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("interval_ms", c.gossip.interval_ms, 10, 600'000));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("fanout", c.gossip.fanout, 1, 64));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Double("phi_threshold", c.gossip.phi_threshold, 1.0, 100.0));
    return r.Int("dead_after_ms", c.gossip.dead_after_ms, 100, 86'400'000);
  }));
  GOSSIPKV_RETURN_IF_ERROR(
      section("replication", [&](TableReader& r) -> Status {
        auto& s = c.replication;
        GOSSIPKV_RETURN_IF_ERROR(r.Int("rumor_fanout", s.rumor_fanout, 0, 64));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("anti_entropy_interval_ms",
                                       s.anti_entropy_interval_ms, 0,
                                       86'400'000));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("replication_factor", s.replication_factor, 1, 255));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("partition_bits", s.partition_bits, 1, 16));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("write_quorum", s.write_quorum, 1, 255));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("read_quorum", s.read_quorum, 1, 255));
        GOSSIPKV_RETURN_IF_ERROR(r.Bool("read_repair", s.read_repair));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("max_pending_repairs", s.max_pending_repairs, 1, 1'000'000));
        GOSSIPKV_RETURN_IF_ERROR(r.Bool("hinted_handoff", s.hinted_handoff));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("hint_window_ms", s.hint_window_ms, 1000, 7 * 86'400'000));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("max_hint_mb_per_owner",
                                       s.max_hint_mb_per_owner, 1, 1 << 20));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("hint_replay_bytes_per_second",
                                       s.hint_replay_bytes_per_second, 4096,
                                       kMaxU32));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("request_timeout_ms", s.request_timeout_ms, 10, 600'000));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("max_message_bytes", s.max_message_bytes, 4096, 1 << 30));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("repair_bytes_per_second",
                                       s.repair_bytes_per_second, 4096,
                                       kMaxU32));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("max_frame_bytes", s.max_frame_bytes, 4096, 1 << 30));
        GOSSIPKV_RETURN_IF_ERROR(r.Int("max_peer_queue_bytes",
                                       s.max_peer_queue_bytes, 4096, 1 << 30));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("gc_interval_ms", s.gc_interval_ms, 0, 86'400'000));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("gc_batch_keys", s.gc_batch_keys, 1, 1'000'000));
        GOSSIPKV_RETURN_IF_ERROR(
            r.Int("max_graves", s.max_graves, 1, 100'000'000));
        return r.Int("grave_min_age_ms", s.grave_min_age_ms, 10'000,
                     86'400'000);
      }));
  GOSSIPKV_RETURN_IF_ERROR(section("limits", [&](TableReader& r) -> Status {
    auto& l = c.limits;
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_key_bytes", l.max_key_bytes, 1, 512 << 20));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_value_bytes", l.max_value_bytes, 1, 512 << 20));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_arguments", l.max_arguments, 3, 1 << 24));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_request_bytes", l.max_request_bytes, 1024, kMaxU32));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_inline_bytes", l.max_inline_bytes, 64, 1 << 30));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("max_unauthenticated_arguments",
                                   l.max_unauthenticated_arguments, 3,
                                   1 << 24));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("max_unauthenticated_bytes",
                                   l.max_unauthenticated_bytes, 256, kMaxU32));
    GOSSIPKV_RETURN_IF_ERROR(r.Int("max_clients", l.max_clients, 1, 1'000'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("idle_timeout_ms", l.idle_timeout_ms, 0, 86'400'000));
    GOSSIPKV_RETURN_IF_ERROR(
        r.Int("max_client_memory_mb", l.max_client_memory_mb, 0, 1 << 20));
    return r.Int("max_reply_bytes", l.max_reply_bytes, 4096, kMaxU32);
  }));
  if (toml::node* users = root.get("users")) {
    GOSSIPKV_RETURN_IF_ERROR(ReadUsers(*users, source, c.auth));
    root.erase("users");
  }
  GOSSIPKV_RETURN_IF_ERROR(top.RejectRest({}));
  return c.Validate();
}

}  // namespace

std::string Endpoint::ToString() const {
  return host.find(':') != std::string::npos
             ? fmt::format("[{}]:{}", host, port)
             : fmt::format("{}:{}", host, port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(
        fmt::format("expected host:port, got \"{}\"", text));
  }
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 ||
      host.empty()) {
    return Status::InvalidArgument(
        fmt::format("expected host:port, got \"{}\"", text));
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(value)};
}

Result<Config> LoadConfigText(std::string_view text,
                              std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format(
        "{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
  Config config;
  GOSSIPKV_RETURN_IF_ERROR(ReadConfig(root, source_name, config));
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: {}", path, e.source().begin.line, e.description()));
  }
  Config config;
  GOSSIPKV_RETURN_IF_ERROR(ReadConfig(root, path, config));
  return config;
}

}  // namespace gossipkv
