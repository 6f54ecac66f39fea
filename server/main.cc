// gossipkv-server: runs one node. Configuration comes from a TOML file
// (--config) with the common fields overridable by flags, so a node can also
// be started with no file at all. SIGINT and SIGTERM shut it down cleanly:
// connections closed, RocksDB closed.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>

#include "config/config.h"
#include "server/node.h"

namespace {

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gossipkv;
  CLI::App app{"gossipkv-server: one node of a gossipkv cluster"};
  std::string config_path, node_id, data_dir, seeds, bind_host, log_level;
  int port = -1, peer_port = -1;
  bool fault_injection = false, buffered = false;
  app.add_option("-c,--config", config_path, "TOML configuration file")
      ->check(CLI::ExistingFile);
  app.add_option("--node-id", node_id, "node id (overrides node_id)");
  app.add_option("--port", port,
                 "client port, 0 for any free port (overrides client.bind)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--peer-port", peer_port, "peer port (overrides peer.bind)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--bind", bind_host,
                 "address to bind both ports to (default 127.0.0.1)");
  app.add_option("--data-dir", data_dir, "data directory (overrides data_dir)");
  app.add_option("--seeds", seeds,
                 "peer addresses host:port,... (overrides seeds)");
  app.add_flag("--fault-injection", fault_injection,
               "allow the FAULT commands");
  app.add_flag("--buffered", buffered,
               "durability = buffered (no fsync per write)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("gossipkv"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  Config config;
  if (!config_path.empty()) {
    auto loaded = LoadConfigFile(config_path);
    if (!loaded) return Fail(loaded.error().message());
    config = std::move(*loaded);
  }
  if (!node_id.empty()) config.node_id = node_id;
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!bind_host.empty())
    config.client_bind.host = config.peer_bind.host = bind_host;
  if (port >= 0) config.client_bind.port = static_cast<uint16_t>(port);
  if (peer_port >= 0) config.peer_bind.port = static_cast<uint16_t>(peer_port);
  if (fault_injection) config.fault_injection = true;
  if (buffered) config.durability = Durability::kBuffered;
  if (!log_level.empty()) config.log_level = log_level;
  if (!seeds.empty()) {
    config.seeds.clear();
    for (const auto& s : CLI::detail::split(seeds, ',')) {
      auto endpoint = ParseEndpoint(s);
      if (!endpoint) return Fail("--seeds: " + endpoint.error().message());
      config.seeds.push_back(*endpoint);
    }
  }
  if (Status valid = config.Validate(); !valid.ok())
    return Fail(valid.message());
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  asio::io_context io(1);
  auto node = Node::Open(config, io);
  if (!node) return Fail(node.error().message());
  if (Status started = (*node)->Start(); !started.ok())
    return Fail(started.message());

  (*node)->set_on_left([&io] { io.stop(); });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping (a restart: peers wait for this node)",
                 signal);
    (*node)->Shutdown([&io] { io.stop(); });
  });
  io.run();
  node->reset();  // closes RocksDB before the process exits
  spdlog::info("stopped");
  return 0;
}
