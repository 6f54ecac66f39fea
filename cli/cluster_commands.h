// The CLI's commands on a local cluster of real processes (LocalCluster,
// cli/local_cluster.h): cluster start|stop|status, partition, heal and
// converge. Each returns the exit code. Called by cli/main.cc only. One
// thread.
#pragma once

#include <string>

#include "cli/command.h"

namespace gossipkv::cli {

// `replication_factor`, `write_quorum` and `read_quorum` 0 keep the
// server's defaults.
int ClusterStart(const Options& o, int n, int base_port, bool tls,
                 int replication_factor, int write_quorum, int read_quorum);
int ClusterStop(const Options& o);
int ClusterStatus(const Options& o);
int Partition(const Options& o, const std::string& spec);
int Heal(const Options& o);
// Which replicas agree, and the segments differing per pair; with `watch`,
// again every 0.5 s until all agree (or `timeout_s`, if positive, passes).
int Converge(const Options& o, bool watch, double timeout_s);

}  // namespace gossipkv::cli
