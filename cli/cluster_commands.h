// The CLI's commands on a local cluster of real processes (LocalCluster,
// cli/local_cluster.h): cluster start|stop|status, partition, heal and
// converge. Each returns the exit code. Called by cli/main.cc only. One
// thread.
#pragma once

#include <string>

#include "cli/command.h"

namespace gossipkv::cli {

// What `cluster start` sets in every node's config; 0 keeps the server's
// default.
struct ClusterStartOptions {
  int nodes = 3;
  int base_port = 7300;
  bool tls = false;
  int replication_factor = 0;
  int write_quorum = 0;
  int read_quorum = 0;
  bool hinted_handoff = true;
};
int ClusterStart(const Options& o, const ClusterStartOptions& start);
int ClusterStop(const Options& o);
int ClusterStatus(const Options& o);
int Partition(const Options& o, const std::string& spec);
int Heal(const Options& o);
// Which replicas agree, and the segments differing per pair; with `watch`,
// again every 0.5 s until all agree (or `timeout_s`, if positive, passes).
int Converge(const Options& o, bool watch, double timeout_s);

}  // namespace gossipkv::cli
