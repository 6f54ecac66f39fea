// Node: one gossipkv server process's parts, wired together — the RocksDB
// engine, the VersionedStore, the command executor and the client listener —
// all driven by one io_context thread (no locks: like Redis's single loop;
// RocksDB runs its own flush and compaction threads).
//
// Start() binds the listeners and writes `<data_dir>/endpoints` (the bound
// addresses and pid, so tools can find a node started on port 0); Stop()
// closes every connection and removes that file. Called from main() and
// from the io_context thread only.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>

#include "config/config.h"
#include "server/client_listener.h"
#include "server/command_executor.h"
#include "storage/rocksdb_engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace gossipkv {

class Node final : public InfoSource {
 public:
  // Opens (creating if needed) the data directory and the store.
  static Result<std::unique_ptr<Node>> Open(const Config& config,
                                            asio::io_context& io);
  ~Node() override;

  Status Start();
  void Stop();

  uint16_t client_port() const { return listener_->port(); }
  VersionedStore& store() { return *store_; }

  void AppendInfo(std::string_view section, std::string& out) override;

 private:
  Node(const Config& config, asio::io_context& io);
  Status WriteEndpointsFile();

  Config config_;
  asio::io_context& io_;
  SystemClock clock_;
  Random random_;
  std::unique_ptr<RocksDBEngine> engine_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<CommandExecutor> executor_;
  std::unique_ptr<ClientListener> listener_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace gossipkv
