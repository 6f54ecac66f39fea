// Node: opening the data directory, INFO facts, the endpoints file.
#include "server/node.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace gossipkv {

namespace fs = std::filesystem;

Node::Node(const Config& config, asio::io_context& io)
    : config_(config),
      io_(io),
      random_(Random::EntropySeed()),
      started_(std::chrono::steady_clock::now()) {}

Node::~Node() { Stop(); }

Result<std::unique_ptr<Node>> Node::Open(const Config& config,
                                         asio::io_context& io) {
  std::error_code ec;
  fs::create_directories(fs::path(config.data_dir) / "db", ec);
  if (ec) {
    return Status::IOError(fmt::format("cannot create data directory {}: {}",
                                       config.data_dir, ec.message()));
  }
  std::unique_ptr<Node> node(new Node(config, io));
  auto engine = RocksDBEngine::Open(
      (fs::path(config.data_dir) / "db").string(),
      RocksDBOptions{config.durability, size_t{config.block_cache_mb} << 20,
                     size_t{config.write_buffer_mb} << 20});
  if (!engine) return engine.error();
  node->engine_ = std::move(*engine);
  auto store =
      VersionedStore::Open(*node->engine_, config.node_id,
                           StoreOptions{config.merkle, config.conflict_mode,
                                        size_t{config.entry_cache_mb} << 20},
                           node->clock_, node->random_);
  if (!store) return store.error();
  node->store_ = std::move(*store);
  if (node->store_->corrupt_records() > 0) {
    spdlog::error(
        "{} stored records do not frame and were skipped (first: {}); the node "
        "serves every other key",
        node->store_->corrupt_records(),
        node->store_->corrupt_samples().front());
  }
  if (node->store_->fresh_epoch()) {
    spdlog::info("new data directory: node {} starts epoch {:x}",
                 config.node_id, node->store_->self().epoch);
  }
  node->executor_ =
      std::make_unique<CommandExecutor>(*node->store_, config.limits, *node);
  node->listener_ =
      std::make_unique<ClientListener>(io, *node->executor_, config.limits);
  return node;
}

Status Node::Start() {
  GOSSIPKV_RETURN_IF_ERROR(listener_->Listen(config_.client_bind));
  listener_->Start();
  spdlog::info(
      "node {} serving clients on {}:{} ({} keys, merkle root {:016x})",
      config_.node_id, config_.client_bind.host, listener_->port(),
      store_->live_key_count(), store_->tree().Root());
  return WriteEndpointsFile();
}

void Node::Stop() {
  if (listener_) listener_->Stop();
  std::error_code ignored;
  fs::remove(fs::path(config_.data_dir) / "endpoints", ignored);
}

Status Node::WriteEndpointsFile() {
  const fs::path path = fs::path(config_.data_dir) / "endpoints";
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "node_id=" << config_.node_id << "\n"
      << "client="
      << Endpoint{config_.client_bind.host, listener_->port()}.ToString()
      << "\n"
      << "pid=" << getpid() << "\n";
    if (!f) return Status::IOError("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // atomic: readers never see half a file
  if (ec)
    return Status::IOError(
        fmt::format("cannot write {}: {}", path.string(), ec.message()));
  return Status::Ok();
}

void Node::AppendInfo(std::string_view section, std::string& out) {
  if (section == "server") {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
    out += fmt::format(
        "gossipkv_version:0.1.0\r\nnode_id:{}\r\nepoch:{:x}\r\ncluster_name:{}"
        "\r\n"
        "process_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\ndata_dir:{}"
        "\r\n"
        "durability:{}\r\n",
        config_.node_id, store_->self().epoch, config_.cluster_name, getpid(),
        listener_->port(), uptime, config_.data_dir,
        config_.durability == Durability::kFsync ? "fsync" : "buffered");
  } else if (section == "clients") {
    const auto& s = listener_->stats();
    out += fmt::format("connected_clients:{}\r\nmaxclients:{}\r\n", s.connected,
                       config_.limits.max_clients);
  } else if (section == "stats") {
    const auto& s = listener_->stats();
    out += fmt::format(
        "total_connections_received:{}\r\nrejected_connections:{}\r\nprotocol_"
        "errors:{}\r\n"
        "idle_timeouts:{}\r\ncommit_failures:{}\r\ngroup_commits:{}\r\n",
        s.connections_received, s.rejected_max_clients, s.protocol_errors,
        s.idle_timeouts, s.commit_failures, listener_->committer().rounds());
  } else if (section == "storage") {
    const auto& cache = store_->cache();
    out += fmt::format(
        "rocksdb_live_data_bytes:{}\r\nentry_cache_bytes:{}\r\nentry_cache_"
        "keys:{}\r\n"
        "entry_cache_hits:{}\r\nentry_cache_misses:{}\r\ncorrupt_records_at_"
        "open:{}\r\n",
        engine_->EstimateLiveBytes(), cache.bytes(), cache.size(), cache.hits(),
        cache.misses(), store_->corrupt_records());
  } else if (section == "replication") {
    out += fmt::format("role:replica\r\nactor:{}\r\nconnected_peers:0\r\n",
                       store_->self().ToString());
  }
}

}  // namespace gossipkv
