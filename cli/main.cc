// gossipkv: the command-line client. Talks to a node over the client
// protocol only (it never links the server).
//
//   gossipkv put KEY VALUE        gossipkv get KEY [--all]
//   gossipkv del KEY              gossipkv info [SECTION]
//   gossipkv members              gossipkv digest
//   gossipkv cluster leave        gossipkv cluster forget ID
//
// --host/--port or --node host:port pick the node (default 127.0.0.1:7379);
// --json prints machine-readable output. Exit codes: 0 found/ok, 1 not
// found, 2 error.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "cli/cluster_admin.h"
#include "cli/json.h"
#include "cli/local_cluster.h"
#include "cli/resp_client.h"
#include "config/config.h"

namespace gossipkv {
namespace {

constexpr int kOk = 0, kNotFound = 1, kError = 2;

struct Options {
  std::string host = "127.0.0.1";
  int port = 7379;
  std::string node;
  std::string dir = "gossipkv-cluster";
  bool json = false;
};

int Error(const std::string& message) {
  std::fprintf(stderr, "gossipkv: %s\n", message.c_str());
  return kError;
}

Result<std::unique_ptr<RespClient>> ConnectTo(const Options& o) {
  std::string host = o.host;
  int port = o.port;
  if (!o.node.empty() && o.node.find(':') == std::string::npos) {
    // A node name of the local cluster in --dir.
    return LocalCluster(o.dir).Connect(o.node);
  }
  if (!o.node.empty()) {
    auto endpoint = ParseEndpoint(o.node);
    if (!endpoint)
      return Status::InvalidArgument("--node: " + endpoint.error().message());
    host = endpoint->host;
    port = endpoint->port;
  }
  return RespClient::Connect(host, static_cast<uint16_t>(port));
}

// Runs one command; prints errors itself. Null result pointer on failure.
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

int Put(const Options& o, const std::string& key, const std::string& value) {
  RespValue reply;
  if (int rc = Run(o, {"SET", key, value}, reply); rc != kOk) return rc;
  if (o.json) {
    std::printf("{\"key\":%s,\"ok\":true}\n", JsonString(key).c_str());
  } else {
    std::printf("OK\n");
  }
  return kOk;
}

int Get(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"GET", key}, reply); rc != kOk) return rc;
  if (reply.is_null()) {
    if (o.json)
      std::printf("{\"key\":%s,\"found\":false}\n", JsonString(key).c_str());
    else
      std::fprintf(stderr, "(not found)\n");
    return kNotFound;
  }
  if (o.json) {
    std::printf("{\"key\":%s,\"found\":true,\"value\":%s}\n",
                JsonString(key).c_str(), JsonString(reply.text).c_str());
  } else {
    std::fwrite(reply.text.data(), 1, reply.text.size(), stdout);
    std::printf("\n");
  }
  return kOk;
}

int GetAll(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"VGET", key}, reply); rc != kOk) return rc;
  if (reply.elements.size() != 2)
    return Error("unexpected VGET reply: " + reply.ToString());
  const std::string& context = reply.elements[0].text;
  const auto& siblings = reply.elements[1].elements;
  if (o.json) {
    std::string out = "{\"key\":" + JsonString(key) +
                      ",\"context\":" + JsonString(context) + ",\"siblings\":[";
    for (size_t i = 0; i < siblings.size(); ++i) {
      const auto& s = siblings[i].elements;
      if (s.size() != 3)
        return Error("unexpected VGET sibling: " + siblings[i].ToString());
      if (i > 0) out += ",";
      out += "{\"deleted\":" + std::string(s[0].is_null() ? "true" : "false");
      if (!s[0].is_null()) out += ",\"value\":" + JsonString(s[0].text);
      out += ",\"dot\":" + JsonString(s[1].text) +
             ",\"timestamp_ms\":" + std::to_string(s[2].integer) + "}";
    }
    std::printf("%s]}\n", out.c_str());
  } else {
    for (const auto& sibling : siblings) {
      const auto& s = sibling.elements;
      if (s.size() != 3)
        return Error("unexpected VGET sibling: " + sibling.ToString());
      std::printf("%s\t(dot %s, timestamp %lld)\n",
                  s[0].is_null() ? "<deleted>" : s[0].ToString().c_str(),
                  s[1].text.c_str(), static_cast<long long>(s[2].integer));
    }
    std::printf("context: %s\n", context.empty() ? "(empty)" : context.c_str());
  }
  return siblings.empty() ? kNotFound : kOk;
}

int Del(const Options& o, const std::string& key) {
  RespValue reply;
  if (int rc = Run(o, {"DEL", key}, reply); rc != kOk) return rc;
  if (o.json) {
    std::printf("{\"key\":%s,\"deleted\":%s}\n", JsonString(key).c_str(),
                reply.integer > 0 ? "true" : "false");
  } else {
    std::printf("%s\n", reply.integer > 0 ? "deleted" : "(not found)");
  }
  return reply.integer > 0 ? kOk : kNotFound;
}

int Members(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"MEMBERS"}, reply); rc != kOk) return rc;
  std::string json = "[";
  if (!o.json) {
    std::printf("%-12s %-22s %-22s %-8s %10s %7s\n", "ID", "PEER", "CLIENT",
                "STATUS", "HEARTBEAT", "PHI");
  }
  for (const auto& row : reply.elements) {
    const auto& f = row.elements;
    if (f.size() != 6)
      return Error("unexpected MEMBERS row: " + row.ToString());
    if (o.json) {
      if (json.size() > 1) json += ",";
      json += "{\"id\":" + JsonString(f[0].text) +
              ",\"peer\":" + JsonString(f[1].text) +
              ",\"client\":" + JsonString(f[2].text) +
              ",\"status\":" + JsonString(f[3].text) +
              ",\"heartbeat_age_ms\":" + std::to_string(f[4].integer) +
              ",\"phi\":" + f[5].text + "}";
    } else {
      std::printf("%-12s %-22s %-22s %-8s %8lldms %7s\n", f[0].text.c_str(),
                  f[1].text.c_str(), f[2].text.c_str(), f[3].text.c_str(),
                  static_cast<long long>(f[4].integer), f[5].text.c_str());
    }
  }
  if (o.json) std::printf("%s]\n", json.c_str());
  return kOk;
}

int Digest(const Options& o) {
  RespValue reply;
  if (int rc = Run(o, {"DIGEST"}, reply); rc != kOk) return rc;
  if (reply.elements.size() != 3)
    return Error("unexpected DIGEST reply: " + reply.ToString());
  const auto& root = reply.elements[0].text;
  if (o.json) {
    std::printf("{\"root\":%s,\"keys\":%lld,\"live_keys\":%lld}\n",
                JsonString(root).c_str(),
                static_cast<long long>(reply.elements[1].integer),
                static_cast<long long>(reply.elements[2].integer));
  } else {
    std::printf("root %s  keys %lld (live %lld)\n", root.c_str(),
                static_cast<long long>(reply.elements[1].integer),
                static_cast<long long>(reply.elements[2].integer));
  }
  return kOk;
}

// ---- local cluster ----------------------------------------------------------

int ClusterStart(const Options& o, int n, int base_port) {
  LocalCluster cluster(o.dir);
  if (Status s = cluster.Start(n, base_port, FindServerBinary()); !s.ok())
    return Error(s.message());
  std::printf(
      "started %d nodes in %s (clients on 127.0.0.1:%d-%d, logs in "
      "%s/nN.log)\n",
      n, o.dir.c_str(), base_port + 1, base_port + n, o.dir.c_str());
  std::printf(
      "try: gossipkv --node n1 put k v; gossipkv --node n%d get k; gossipkv "
      "cluster status\n",
      n);
  return kOk;
}

int ClusterStop(const Options& o) {
  if (Status s = LocalCluster(o.dir).Stop(); !s.ok()) return Error(s.message());
  std::printf("stopped the cluster in %s\n", o.dir.c_str());
  return kOk;
}

struct NodeDigest {
  LocalNode node;
  bool up = false;
  std::string root;
  int64_t keys = 0;
};

std::vector<NodeDigest> Digests(const LocalCluster& cluster,
                                const std::vector<LocalNode>& nodes) {
  std::vector<NodeDigest> out;
  for (const auto& n : nodes) {
    NodeDigest d;
    d.node = n;
    if (n.pid != 0) {
      if (auto client = cluster.Connect(n.name)) {
        if (auto reply = (*client)->Call({"DIGEST"});
            reply && reply->elements.size() == 3) {
          d.up = true;
          d.root = reply->elements[0].text;
          d.keys = reply->elements[2].integer;
        }
      }
    }
    out.push_back(d);
  }
  return out;
}

// "all 3 replicas agree" or the groups of agreeing replicas.
std::string Agreement(const std::vector<NodeDigest>& digests, bool* all_agree) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& d : digests) {
    if (d.up) groups[d.root].push_back(d.node.name);
  }
  *all_agree =
      groups.size() == 1 && groups.begin()->second.size() == digests.size();
  if (*all_agree)
    return fmt::format("all {} replicas agree (root {})", digests.size(),
                       groups.begin()->first);
  std::string out = fmt::format("replicas disagree: {} groups", groups.size());
  for (const auto& [root, names] : groups)
    out += " {" + fmt::format("{}", fmt::join(names, ",")) + "}";
  return out;
}

int ClusterStatus(const Options& o) {
  LocalCluster cluster(o.dir);
  auto nodes = cluster.Nodes();
  if (!nodes) return Error(nodes.error().message());
  auto digests = Digests(cluster, *nodes);
  std::printf("%-5s %-8s %-22s %-6s %10s  %s\n", "NODE", "PID", "CLIENT",
              "ALIVE", "KEYS", "ROOT");
  for (const auto& d : digests) {
    std::printf("%-5s %-8s %-22s %-6s %10lld  %s\n", d.node.name.c_str(),
                d.node.pid ? std::to_string(d.node.pid).c_str() : "-",
                d.node.client.c_str(), d.up ? "yes" : "no",
                static_cast<long long>(d.keys), d.root.c_str());
  }
  bool agree = false;
  std::printf("%s\n", Agreement(digests, &agree).c_str());
  return kOk;
}

int Partition(const Options& o, const std::string& spec) {
  if (Status s = LocalCluster(o.dir).Partition(spec); !s.ok())
    return Error(s.message());
  std::printf("partitioned: %s\n", spec.c_str());
  return kOk;
}

int Heal(const Options& o) {
  if (Status s = LocalCluster(o.dir).Heal(); !s.ok()) return Error(s.message());
  std::printf("healed: every link open again\n");
  return kOk;
}

// Pairwise differing segments, as a line per pair.
int Converge(const Options& o, bool watch, double timeout_s) {
  LocalCluster cluster(o.dir);
  auto nodes = cluster.Nodes();
  if (!nodes) return Error(nodes.error().message());
  std::vector<LocalNode> up;
  for (const auto& n : *nodes) {
    if (n.pid != 0) up.push_back(n);
  }
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    auto leaves = cluster.Leaves(up);
    if (!leaves) return Error(leaves.error().message());
    bool agree = false;
    const std::string summary = Agreement(Digests(cluster, up), &agree);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    size_t worst = 0;
    std::string pairs;
    for (size_t i = 0; i < up.size(); ++i) {
      for (size_t j = i + 1; j < up.size(); ++j) {
        size_t differ = 0;
        for (size_t s = 0; s < (*leaves)[i].size() && s < (*leaves)[j].size();
             ++s) {
          differ += (*leaves)[i][s] != (*leaves)[j][s];
        }
        worst = std::max(worst, differ);
        pairs += fmt::format("  {}-{}: {} segments differ\n", up[i].name,
                             up[j].name, differ);
      }
    }
    if (!watch) {
      std::printf("%s\n%s", summary.c_str(), pairs.c_str());
      return agree ? kOk : kNotFound;
    }
    std::string compact;  // "n1-n2:0 n1-n3:12 ..."
    for (size_t i = 0, k = 0; i < up.size(); ++i) {
      for (size_t j = i + 1; j < up.size(); ++j, ++k) {
        size_t differ = 0;
        for (size_t s = 0; s < (*leaves)[i].size() && s < (*leaves)[j].size();
             ++s) {
          differ += (*leaves)[i][s] != (*leaves)[j][s];
        }
        compact += fmt::format("{}{}-{}:{}", k ? " " : "", up[i].name,
                               up[j].name, differ);
      }
    }
    std::printf("%6.2fs  %s  [differing segments %s]\n", t, summary.c_str(),
                compact.c_str());
    std::fflush(stdout);
    if (agree) return kOk;
    if (timeout_s > 0 && t > timeout_s) return kNotFound;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Info(const Options& o, const std::string& section) {
  RespValue reply;
  std::vector<std::string> args{"INFO"};
  if (!section.empty()) args.push_back(section);
  if (int rc = Run(o, args, reply); rc != kOk) return rc;
  if (!o.json) {
    std::fwrite(reply.text.data(), 1, reply.text.size(), stdout);
    return kOk;
  }
  // "# Section" headers and "key:value" lines become nested objects.
  std::string out = "{", current;
  size_t start = 0;
  while (start < reply.text.size()) {
    size_t end = reply.text.find("\r\n", start);
    if (end == std::string::npos) end = reply.text.size();
    std::string_view line(reply.text.data() + start, end - start);
    start = end + 2;
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!current.empty()) out += "},";
      current = std::string(line.substr(2));
      for (auto& c : current) c = static_cast<char>(std::tolower(c));
      out += JsonString(current) + ":{";
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (out.back() != '{') out += ",";
    out += JsonString(line.substr(0, colon)) + ":" +
           JsonString(line.substr(colon + 1));
  }
  if (!current.empty()) out += "}";
  std::printf("%s}\n", out.c_str());
  return kOk;
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  CLI::App app{"gossipkv: command-line client for a gossipkv node"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand too
  Options o;
  app.add_option("--host", o.host, "node address (default 127.0.0.1)");
  app.add_option("-p,--port", o.port, "node client port (default 7379)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--node", o.node,
                 "node as host:port (overrides --host/--port)");
  app.add_flag("--json", o.json, "machine-readable output");
  app.add_option("--dir", o.dir,
                 "local cluster directory (default ./gossipkv-cluster); "
                 "--node then also takes a node name like n2");

  std::string key, value, section;
  bool all = false;
  auto* put = app.add_subcommand("put", "store VALUE under KEY");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  auto* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("key", key)->required();
  get->add_flag(
      "-a,--all", all,
      "print every sibling with its dot and timestamp, and the context");
  auto* del = app.add_subcommand("del", "delete KEY");
  del->add_option("key", key)->required();
  auto* members = app.add_subcommand(
      "members", "list the cluster's members as this node sees them");
  auto* digest = app.add_subcommand(
      "digest",
      "print the Merkle root and key count (equal roots: equal data)");
  auto* cluster = app.add_subcommand(
      "cluster", "run a local multi-node cluster; leave or forget a member");
  cluster->require_subcommand(1);
  int nodes = 3, base_port = 7300;
  auto* cluster_start =
      cluster->add_subcommand("start", "start nodes n1..nN as local processes");
  cluster_start->add_option("-n", nodes, "number of nodes")
      ->check(CLI::Range(1, 99));
  cluster_start
      ->add_option("--base-port", base_port,
                   "clients on base+i, peers on base+100+i")
      ->check(CLI::Range(1024, 65000));
  auto* cluster_stop =
      cluster->add_subcommand("stop", "stop every node of the cluster");
  auto* cluster_status = cluster->add_subcommand(
      "status", "per node: pid, alive, keys, root; and whether all agree");
  ClusterAdminCommands admin;
  AddClusterAdminCommands(*cluster, admin);
  std::string spec;
  auto* partition = app.add_subcommand(
      "partition", "cut the cluster into groups: \"n1,n2 | n3\"");
  partition->add_option("groups", spec, "groups of node names separated by |")
      ->required();
  auto* heal = app.add_subcommand("heal", "remove every partition");
  bool watch = false;
  double timeout_s = 0;
  auto* converge = app.add_subcommand(
      "converge", "which replicas agree; segments differing per pair");
  converge->add_flag("-w,--watch", watch,
                     "refresh every 0.5 s until all agree");
  converge->add_option("--timeout", timeout_s,
                       "with --watch: give up after this many seconds");
  auto* info = app.add_subcommand("info", "print the node's INFO");
  info->add_option("section", section,
                   "server, clients, storage, replication, stats, keyspace");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*put) return Put(o, key, value);
  if (*get) return all ? GetAll(o, key) : Get(o, key);
  if (*del) return Del(o, key);
  if (*cluster_start) return ClusterStart(o, nodes, base_port);
  if (*cluster_stop) return ClusterStop(o);
  if (*cluster_status) return ClusterStatus(o);
  if (admin.chosen())
    return RunClusterAdmin(
        admin, [&] { return ConnectTo(o); }, o.json);
  if (*partition) return Partition(o, spec);
  if (*heal) return Heal(o);
  if (*converge) return Converge(o, watch, timeout_s);
  if (*members) return Members(o);
  if (*digest) return Digest(o);
  if (*info) return Info(o, section);
  return 2;
}
