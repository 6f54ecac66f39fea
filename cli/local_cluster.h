// LocalCluster: a multi-node gossipkv cluster of real processes on this
// machine, described by a directory (default ./gossipkv-cluster): one TOML
// config, data directory and log per node, nodes named n1..nN. Used by the
// `gossipkv cluster|partition|heal|converge` commands and the convergence
// experiment; it talks to nodes only over the client protocol.
// Not thread-safe; one caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/resp_client.h"
#include "util/status.h"

namespace gossipkv {

struct LocalNode {
  std::string name;    // n1, n2, ...
  std::string client;  // host:port, from the node's endpoints file
  int pid = 0;         // 0 when not running
};

class LocalCluster {
 public:
  explicit LocalCluster(std::string dir) : dir_(std::move(dir)) {}

  // Writes configs for n nodes (clients on base_port+i, peers on
  // base_port+100+i, n1 the seed, fault injection on) and starts them; waits
  // until each has written its endpoints. `extra_toml` is appended to every
  // node's config.
  // With `own_addresses`, node K binds 127.0.0.(10+K) instead of 127.0.0.1,
  // so kernel packet filters can tell the nodes apart.
  // The last `held_back` nodes are configured but not started (a node
  // that joins later: Launch).
  Status Start(int n, int base_port, const std::string& server_binary,
               const std::string& extra_toml = "", bool own_addresses = false,
               const std::string& conflict = "siblings", int held_back = 0);
  // With it, Start makes a CA and a certificate per node in <dir>/tls
  // (cli/cluster_certs.h) and turns peer.tls on in every config.
  void set_peer_tls(bool on) { peer_tls_ = on; }
  // With it (1 to 255), Start sets replication.replication_factor in every
  // config; 0 keeps the default.
  void set_replication_factor(int n) { replication_factor_ = n; }
  // With it (1 to 255), Start sets replication.write_quorum; 0 keeps 1.
  void set_write_quorum(int n) { write_quorum_ = n; }
  // With it (1 to 255), Start sets replication.read_quorum; 0 keeps 1.
  void set_read_quorum(int n) { read_quorum_ = n; }
  // Connections to the nodes send AUTH [user] password first.
  void set_auth(std::string user, std::string password) {
    user_ = std::move(user);
    password_ = std::move(password);
  }
  // Starts the configured node `name` and waits until it serves clients.
  Status Launch(const std::string& name, const std::string& server_binary);
  // SIGTERM to every node, SIGKILL after 5 s.
  Status Stop();

  // The nodes of the directory, with their addresses if running.
  Result<std::vector<LocalNode>> Nodes() const;
  // host:port of a node's client port, by name.
  Result<std::string> ClientAddress(const std::string& name) const;
  Result<std::unique_ptr<RespClient>> Connect(const std::string& name) const;

  // Applies "n1,n2 | n3": every node blocks every node outside its group.
  Status Partition(const std::string& spec);
  Status Heal();

  // Segment hashes of each running node (DIGEST LEAVES).
  Result<std::vector<std::vector<uint64_t>>> Leaves(
      const std::vector<LocalNode>& nodes) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool peer_tls_ = false;
  int replication_factor_ = 0;
  int write_quorum_ = 0;
  int read_quorum_ = 0;
  std::string user_;
  std::string password_;  // empty: no AUTH
};

// Parses "n1,n2 | n3,n4" into groups.
Result<std::vector<std::vector<std::string>>> ParsePartition(
    const std::string& spec);
// The gossipkv-server binary next to this program's (build tree or install).
std::string FindServerBinary();

}  // namespace gossipkv
