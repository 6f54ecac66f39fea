// Cluster administration commands of the gossipkv CLI, against one node:
//
//   gossipkv cluster leave        the node leaves the cluster for good, then
//                                 exits (CLUSTER LEAVE)
//   gossipkv cluster forget ID    every node forgets member ID, which must be
//                                 down or have left (CLUSTER FORGET)
//
// The node is picked as for every other command (--node, --host/--port).
// Called only from the CLI's main(): AddClusterAdminCommands() while it
// builds the command line, RunClusterAdmin() once it is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "cli/resp_client.h"

namespace gossipkv {

struct ClusterAdminCommands {
  CLI::App* leave = nullptr;
  CLI::App* forget = nullptr;
  std::string forget_id;

  // True when the parsed command line chose one of them.
  bool chosen() const { return (leave && *leave) || (forget && *forget); }
};

// Adds `leave` and `forget ID` under `cluster`.
void AddClusterAdminCommands(CLI::App& cluster, ClusterAdminCommands& out);

// Runs the chosen command on the node `connect` reaches; prints the outcome
// ("OK", or JSON with `json`) or the node's error on stderr. Exit code: 0
// done, 2 error.
int RunClusterAdmin(
    const ClusterAdminCommands& commands,
    const std::function<Result<std::unique_ptr<RespClient>>()>& connect,
    bool json);

}  // namespace gossipkv
