// Node: the families a scrape reads from the node (server/metrics.h holds
// the instruments). Every numeric INFO field becomes a metric named after
// it, so INFO and /metrics cannot disagree: `gossipkv_<field>_total` for a
// counter (any field the table below does not name), `gossipkv_<field>` for
// a gauge, `gossipkv_config_<field>` for a setting, with milliseconds and
// MiB turned to seconds and bytes. Each HELP names its INFO field. Identity
// fields become labels of gossipkv_node_info. Labelled families follow:
// members by state, each peer's phi, and the age of the last anti-entropy
// session that found each peer in sync (the convergence lag). A field the
// table does not name is a counter: every such field today only grows.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>

#include "server/node.h"

namespace gossipkv {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

enum class Kind { kCounter, kGauge, kSetting, kLabel, kSkip };

struct Field {
  Kind kind;
  std::string_view name = {};  // the metric's stem when not the field's
};

// Fields that are not counters, and counters whose name reads badly.
const std::unordered_map<std::string_view, Field>& Fields() {
  static const std::unordered_map<std::string_view, Field> kFields = {
      {"gossipkv_version", {Kind::kLabel, "version"}},
      {"node_id", {Kind::kLabel}},
      {"epoch", {Kind::kLabel}},
      {"cluster_name", {Kind::kLabel}},
      {"process_id", {Kind::kLabel}},
      {"tcp_port", {Kind::kLabel}},
      {"peer_port", {Kind::kLabel}},
      {"durability", {Kind::kLabel}},
      {"conflict_mode", {Kind::kLabel}},
      {"actor", {Kind::kLabel}},
      {"data_dir", {Kind::kLabel}},
      {"fault_injection", {Kind::kLabel}},
      {"forgotten", {Kind::kSkip}},  // lists and messages
      {"gc_blocked_by", {Kind::kSkip}},
      {"hint_owners", {Kind::kSkip}},
      {"fault_blocked", {Kind::kSkip}},
      {"disk_error", {Kind::kSkip}},
      {"peer_last_refusal", {Kind::kSkip}},
      {"peer_tls", {Kind::kLabel}},
      {"merkle_root", {Kind::kSkip}},  // a hash, not a quantity
      {"ring_fingerprint", {Kind::kSkip}},
      {"ring_members", {Kind::kGauge}},
      {"ring_owned_partitions", {Kind::kGauge}},
      {"ring_max_over_mean", {Kind::kGauge}},
      {"replication_factor", {Kind::kSetting}},
      {"ring_replicas", {Kind::kSetting}},
      {"ring_partitions", {Kind::kSetting}},
      {"uptime_in_seconds", {Kind::kGauge, "uptime_seconds"}},
      {"total_commands_processed", {Kind::kCounter, "commands_processed"}},
      {"total_connections_received", {Kind::kCounter, "connections_received"}},
      {"connected_clients", {Kind::kGauge}},
      {"client_memory_bytes", {Kind::kGauge}},
      {"keys", {Kind::kGauge}},
      {"keys_with_tombstones", {Kind::kGauge}},
      {"merkle_memory_bytes", {Kind::kGauge}},
      {"rocksdb_live_data_bytes", {Kind::kGauge}},
      {"entry_cache_bytes", {Kind::kGauge}},
      {"entry_cache_keys", {Kind::kGauge}},
      {"corrupt_records_at_open", {Kind::kGauge}},
      {"corrupt_graves_at_open", {Kind::kGauge}},
      {"disk_read_only", {Kind::kGauge}},
      {"members", {Kind::kGauge, "members_known"}},
      {"members_alive", {Kind::kSkip}},  // gossipkv_members{state}
      {"members_suspect", {Kind::kSkip}},
      {"members_dead", {Kind::kSkip}},
      {"members_left", {Kind::kSkip}},
      {"members_forgotten", {Kind::kGauge}},
      {"self_forgotten", {Kind::kGauge}},
      {"incarnation", {Kind::kGauge}},
      {"heartbeat", {Kind::kGauge}},
      {"peer_inbound_connections", {Kind::kGauge}},
      {"peer_outbound_records", {Kind::kGauge}},
      {"tombstones_stored", {Kind::kGauge}},
      {"graves", {Kind::kGauge}},
      {"gc_floor", {Kind::kGauge}},
      {"ae_filling", {Kind::kGauge}},
      {"ae_queue_peak", {Kind::kGauge}},
      {"maxclients", {Kind::kSetting}},
      {"max_client_memory_mb", {Kind::kSetting}},
      {"disk_retry_ms", {Kind::kSetting}},
      {"merkle_segments", {Kind::kSetting}},
      {"merkle_depth", {Kind::kSetting}},
      {"gossip_interval_ms", {Kind::kSetting}},
      {"phi_threshold", {Kind::kSetting}},
      {"rumor_fanout", {Kind::kSetting}},
      {"anti_entropy_interval_ms", {Kind::kSetting}},
      {"gc_interval_ms", {Kind::kSetting}},
      {"write_quorum", {Kind::kSetting}},
      {"read_quorum", {Kind::kSetting}},
      {"read_repair", {Kind::kLabel}},
      {"hinted_handoff", {Kind::kLabel}},
      {"hint_window_ms", {Kind::kSetting}},
      {"hints", {Kind::kGauge}},
      {"hint_bytes", {Kind::kGauge}},
      {"request_timeout_ms", {Kind::kSetting}},
  };
  return kFields;
}

// Families by name, in the order first seen.
class Families {
 public:
  ClientMetric& Add(const std::string& name, MetricType type,
                    const std::string& help,
                    std::vector<ClientMetric::Label> labels = {}) {
    auto [it, fresh] = index_.try_emplace(name, families_.size());
    if (fresh) families_.push_back(MetricFamily{name, help, type, {}});
    MetricFamily& family = families_[it->second];
    family.metric.push_back(ClientMetric{});
    family.metric.back().label = std::move(labels);
    return family.metric.back();
  }
  void Counter(const std::string& name, const std::string& help, double v) {
    Add(name, MetricType::Counter, help).counter.value = v;
  }
  void Gauge(const std::string& name, const std::string& help, double v,
             std::vector<ClientMetric::Label> labels = {}) {
    Add(name, MetricType::Gauge, help, std::move(labels)).gauge.value = v;
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
  std::map<std::string, size_t> index_;
};

std::optional<double> Number(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return {};
  return v;
}

// A setting's name and value in base units.
std::pair<std::string, double> BaseUnits(std::string_view name, double v) {
  if (name.ends_with("_ms"))
    return {fmt::format("{}_seconds", name.substr(0, name.size() - 3)),
            v / 1000};
  if (name.ends_with("_mb"))
    return {fmt::format("{}_bytes", name.substr(0, name.size() - 3)),
            v * (1 << 20)};
  return {std::string(name), v};
}

}  // namespace

std::vector<MetricFamily> Node::CollectMetrics() {
  Families out;
  std::vector<ClientMetric::Label> identity;
  std::string identity_fields;
  const std::string info = executor_->InfoText({"all"});
  std::string_view section;
  for (size_t at = 0; at < info.size();) {
    size_t end = info.find("\r\n", at);
    if (end == std::string::npos) end = info.size();
    const std::string_view line(info.data() + at, end - at);
    at = end + 2;
    if (line.starts_with("# ")) {
      section = line.substr(2);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == line.npos) continue;
    const std::string_view key = line.substr(0, colon);
    const std::string_view text = line.substr(colon + 1);
    auto it = Fields().find(key);
    const Field field =
        it == Fields().end() ? Field{Kind::kCounter} : it->second;
    const std::string stem(field.name.empty() ? key : field.name);
    if (field.kind == Kind::kLabel) {
      identity.push_back({stem, std::string(text)});
      identity_fields += identity_fields.empty() ? "" : ", ";
      identity_fields += key;
      continue;
    }
    const std::optional<double> value = Number(text);
    if (!value || field.kind == Kind::kSkip) continue;
    const std::string help = fmt::format("INFO {} ({})", section, key);
    switch (field.kind) {
      case Kind::kCounter:
        out.Counter(fmt::format("gossipkv_{}_total", stem), help, *value);
        break;
      case Kind::kGauge:
        out.Gauge("gossipkv_" + stem, help, *value);
        break;
      default: {
        auto [name, base] = BaseUnits(stem, *value);
        out.Gauge("gossipkv_config_" + name, help, base);
      }
    }
  }
  out.Gauge("gossipkv_node_info",
            fmt::format("This node; always 1 (INFO {})", identity_fields), 1,
            std::move(identity));

  const int64_t now = NowMs();
  const std::vector<MemberView> members = Members();
  size_t by_state[4] = {0, 0, 0, 0};
  for (const auto& m : members) ++by_state[static_cast<int>(m.liveness)];
  for (int s = 0; s < 4; ++s) {
    out.Gauge("gossipkv_members",
              "Members known, by state (INFO membership (members_alive, "
              "members_suspect, members_dead, members_left))",
              static_cast<double>(by_state[s]),
              {{"state", LivenessName(static_cast<Liveness>(s))}});
  }
  const auto& stats = replica_->stats();
  // When a scrape first saw each member: the lag of one never in sync.
  const int64_t seen_from =
      metrics_scraped_
          ? now
          : now - std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
  metrics_scraped_ = true;
  std::erase_if(metrics_first_seen_, [&](const auto& seen) {
    return std::none_of(members.begin(), members.end(),
                        [&](const auto& m) { return m.node_id == seen.first; });
  });
  for (const auto& m : members) {
    if (m.self) continue;
    out.Gauge("gossipkv_peer_phi",
              "Phi-accrual suspicion of each peer (suspect past phi_threshold)",
              m.phi, {{"peer", m.node_id}});
    if (m.liveness == Liveness::kLeft) continue;
    // Members there at the first scrape count from the node's start.
    const int64_t first_seen =
        metrics_first_seen_.try_emplace(m.node_id, seen_from).first->second;
    auto in_sync = stats.ae_last_in_sync_ms.find(m.node_id);
    const int64_t since = in_sync == stats.ae_last_in_sync_ms.end()
                              ? first_seen
                              : in_sync->second;
    out.Gauge("gossipkv_anti_entropy_in_sync_age_seconds",
              "Since an anti-entropy session last found this node and the "
              "peer holding the same data, or since a scrape first saw the "
              "peer (the node's start at its first scrape)",
              static_cast<double>(now - since) / 1000, {{"peer", m.node_id}});
    auto session = stats.ae_last_session_ms.find(m.node_id);
    if (session != stats.ae_last_session_ms.end()) {
      out.Gauge("gossipkv_anti_entropy_session_age_seconds",
                "Since the last anti-entropy session with the peer began "
                "(INFO replication (ae_last_session_<peer>))",
                static_cast<double>(now - session->second) / 1000,
                {{"peer", m.node_id}});
    }
  }
  if (metrics_listener_) {
    const auto& s = metrics_listener_->stats();
    out.Counter("gossipkv_metrics_scrapes_total", "Scrapes of /metrics",
                static_cast<double>(s.scrapes));
    out.Counter("gossipkv_metrics_bad_requests_total",
                "Requests to the metrics port that were not a scrape",
                static_cast<double>(s.bad_requests));
    out.Counter("gossipkv_metrics_connections_refused_total",
                "Metrics connections over [metrics] max_connections",
                static_cast<double>(s.refused));
  }
  return out.Take();
}

}  // namespace gossipkv
