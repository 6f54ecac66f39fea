// The CLI's `cluster leave` and `cluster forget ID`.
#include "cli/cluster_admin.h"

#include <cstdio>

#include "cli/json.h"

namespace gossipkv {

void AddClusterAdminCommands(CLI::App& cluster, ClusterAdminCommands& out) {
  out.leave = cluster.add_subcommand(
      "leave",
      "the node (--node) leaves the cluster for good and exits; peers stop "
      "waiting for it");
  out.forget = cluster.add_subcommand(
      "forget",
      "every node forgets member ID, which is down or has left; it is "
      "refused should it come back with that id");
  out.forget->add_option("id", out.forget_id, "node id of the member")
      ->required();
}

int RunClusterAdmin(
    const ClusterAdminCommands& commands,
    const std::function<Result<std::unique_ptr<RespClient>>()>& connect,
    bool json) {
  std::vector<std::string> args = {"CLUSTER", "LEAVE"};
  if (commands.forget && *commands.forget)
    args = {"CLUSTER", "FORGET", commands.forget_id};
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "gossipkv: %s\n", message.c_str());
    return 2;
  };
  auto client = connect();
  if (!client) return fail(client.error().message());
  auto reply = (*client)->Call(args);
  if (!reply) return fail(reply.error().message());
  if (reply->is_error()) return fail(reply->text);
  if (json) {
    Json j;
    j["command"] = args[0] + " " + args[1];
    j["ok"] = true;
    PrintJson(j);
  } else {
    std::printf("OK\n");
  }
  return 0;
}

}  // namespace gossipkv
