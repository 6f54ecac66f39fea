// Node: one gossipkv server process's parts, wired together — the RocksDB
// engine and VersionedStore, the Replica (membership, rumor, anti-entropy,
// tombstone GC) behind its ReplicaDriver, the client listener and the peer
// transport with its link filter — all driven by one io_context thread (no
// locks, like Redis's single loop; RocksDB runs its own flush and compaction
// threads).
//
// Start() binds the listeners (clients, peers, and with [metrics] bind the
// Prometheus scrape), starts the 100 ms replica tick and writes
// `<data_dir>/endpoints` (bound addresses and pid, so tools can find a node
// started on port 0). While the disk refuses writes (full or failing; a node
// that finds no room at start opens its store read-only), the node serves
// reads and gossip, refuses client writes and retries the disk every
// disk_retry_ms until it takes writes again. Shutdown() stores what is pending
// and stops everything; peers take it for a restart, not a departure. Called
// from main() and the io_context thread only.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "config/config.h"
#include "driver/replica_driver.h"
#include "replication/replica.h"
#include "server/client_listener.h"
#include "server/command_executor.h"
#include "server/link_filter.h"
#include "server/metrics.h"
#include "server/metrics_listener.h"
#include "server/peer_transport.h"
#include "storage/rocksdb_engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace gossipkv {

class Node final : public NodeContext {
 public:
  // Opens (creating if needed) the data directory and the store.
  static Result<std::unique_ptr<Node>> Open(const Config& config,
                                            asio::io_context& io);
  ~Node() override;

  Status Start();
  // Stores what is pending, then stops and calls `done` (SIGTERM: a
  // restart; peers are told nothing).
  void Shutdown(std::function<void()> done);
  void Stop();

  uint16_t client_port() const { return listener_->port(); }
  uint16_t peer_port() const { return peers_->port(); }
  VersionedStore& store() { return *store_; }

  // NodeContext
  void AppendInfo(std::string_view section, std::string& out) override;
  std::vector<MemberView> Members() override;
  const Ring& ring() override { return replica_->ring(); }
  std::vector<uint32_t> OwnedPartitions() override;
  void Fault(const std::vector<std::string>& args, std::string& out) override;
  void Cluster(const std::vector<std::string>& args, std::string& out) override;
  std::string WriteRefusal() override;

  // Called once the node has left the cluster for good (CLUSTER LEAVE) and
  // stopped: the process should exit.
  void set_on_left(std::function<void()> hook) { on_left_ = std::move(hook); }

 private:
  Node(const Config& config, asio::io_context& io);
  Status WriteEndpointsFile();
  int64_t NowMs() { return clock_.MonotonicMillis(); }
  // Sends one message the driver released, through the link filter.
  void Send(Outgoing& message);
  void OnPeerMessage(const std::string& from_address,
                     const pb::PeerMessage& message);
  asio::awaitable<void> TickLoop();
  // After a replica step: commits what it changed (see node.cc).
  void CommitChanges();
  // Every disk_retry_ms, while the engine refuses writes: TryResume().
  asio::awaitable<void> DiskRetryLoop();
  // Shutdown's end: waits for what is pending to be stored, then stops.
  asio::awaitable<void> FinalCommit(std::function<void()> done);
  // Logs forgotten peers refused for the first time, and this node's own
  // forgetting (server/node_cluster.cc).
  void LogLifecycle();
  void AppendMembershipInfo(std::string& out);
  void AppendRingInfo(std::string& out);
  // What a scrape reads from the node (server/node_metrics.cc).
  std::vector<prometheus::MetricFamily> CollectMetrics();

  Config config_;
  asio::io_context& io_;
  SystemClock clock_;
  Random random_;
  std::unique_ptr<RocksDBEngine> engine_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<CommandExecutor> executor_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<ClientListener> listener_;
  std::unique_ptr<PeerTransport> peers_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<ReplicaDriver> driver_;
  std::unique_ptr<Metrics> metrics_;  // with [metrics] bind only
  std::unique_ptr<MetricsListener> metrics_listener_;
  std::map<std::string, int64_t> metrics_first_seen_;  // member id -> ms
  bool metrics_scraped_ = false;
  LinkFilter filter_;
  asio::steady_timer tick_timer_;
  asio::steady_timer disk_timer_;
  bool disk_refusing_ = false;  // logged as refusing writes
  bool stopped_ = false;
  bool leaving_ = false;
  bool logged_self_forgotten_ = false;
  std::function<void()> on_left_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace gossipkv
