// Connecting to the node the options name and running one command there.
#include "cli/command.h"

#include <cstdio>

#include "cli/local_cluster.h"
#include "config/config.h"

namespace gossipkv::cli {

int Error(const std::string& message) {
  std::fprintf(stderr, "gossipkv: %s\n", message.c_str());
  return kError;
}

LocalCluster ClusterOf(const Options& o) {
  LocalCluster cluster(o.dir);
  cluster.set_auth(o.user, o.password);
  return cluster;
}

Result<std::unique_ptr<RespClient>> ConnectTo(const Options& o) {
  std::string host = o.host;
  int port = o.port;
  if (!o.node.empty() && o.node.find(':') == std::string::npos) {
    // A node name of the local cluster in --dir (which sends AUTH).
    return ClusterOf(o).Connect(o.node);
  }
  if (!o.node.empty()) {
    auto endpoint = ParseEndpoint(o.node);
    if (!endpoint)
      return Status::InvalidArgument("--node: " + endpoint.error().message());
    host = endpoint->host;
    port = endpoint->port;
  }
  auto client = RespClient::Connect(host, static_cast<uint16_t>(port));
  if (!client || o.password.empty()) return client;
  GOSSIPKV_RETURN_IF_ERROR((*client)->Authenticate(o.user, o.password));
  return client;
}

int Run(const Options& o, const std::vector<std::string>& args,
        RespValue& reply) {
  auto client = ConnectTo(o);
  if (!client) return Error(client.error().message());
  auto result = (*client)->Call(args);
  if (!result) return Error(result.error().message());
  reply = std::move(*result);
  if (reply.is_error()) return Error(reply.text);
  return kOk;
}

}  // namespace gossipkv::cli
