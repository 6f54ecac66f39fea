// The gossipkv CLI's shared pieces: its global options, its exit codes,
// and running one command on the node the options name. Used by the
// command files of the gossipkv executable (cli/main.cc,
// cli/node_commands.cc, cli/cluster_commands.cc) only. One thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/local_cluster.h"
#include "cli/resp_client.h"
#include "util/status.h"

namespace gossipkv::cli {

// Exit codes: 0 found/ok, 1 not found, 2 error.
inline constexpr int kOk = 0, kNotFound = 1, kError = 2;

struct Options {
  std::string host = "127.0.0.1";
  int port = 7379;
  std::string node;
  std::string dir = "gossipkv-cluster";
  bool json = false;
  // AUTH after connecting when the password is set (--user, --password,
  // or GOSSIPKV_USER and GOSSIPKV_PASSWORD).
  std::string user;
  std::string password;
};

// Prints the error to stderr; returns kError.
int Error(const std::string& message);

// The node named by --node (host:port, or a node name of the local cluster
// in --dir), else by --host and --port; authenticated if a password is set.
Result<std::unique_ptr<RespClient>> ConnectTo(const Options& o);
// The local cluster in --dir, its connections authenticated as o says.
LocalCluster ClusterOf(const Options& o);

// Runs one command; prints errors itself. kOk with `reply` set, or the exit
// code of the failure.
int Run(const Options& o, const std::vector<std::string>& args,
        RespValue& reply);

}  // namespace gossipkv::cli
