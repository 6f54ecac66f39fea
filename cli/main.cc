// gossipkv: the command-line client. Talks to a node over the client
// protocol only (it never links the server).
//
//   gossipkv put KEY VALUE        gossipkv get KEY [--all]
//   gossipkv del KEY              gossipkv info [SECTION]
//   gossipkv members              gossipkv digest
//   gossipkv replicas KEY         gossipkv ring
//   gossipkv cluster start|stop|status
//   gossipkv cluster leave        gossipkv cluster forget ID
//   gossipkv partition "n1,n2 | n3"   gossipkv heal   gossipkv converge
//
// --host/--port or --node host:port pick the node (default 127.0.0.1:7379);
// --json prints machine-readable output. Exit codes: 0 found/ok, 1 not
// found, 2 error. This file parses the command line; the commands are in
// cli/node_commands.cc, cli/cluster_commands.cc and cli/cluster_admin.cc.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/cluster_admin.h"
#include "cli/cluster_commands.h"
#include "cli/command.h"
#include "cli/node_commands.h"

int main(int argc, char** argv) {
  using namespace gossipkv::cli;
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
  app.add_option("--user", o.user, "user to AUTH as (default: requirepass's)")
      ->envname("GOSSIPKV_USER");
  app.add_option("--password", o.password, "password to AUTH with")
      ->envname("GOSSIPKV_PASSWORD");
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
  auto* replicas = app.add_subcommand(
      "replicas", "print the members that own KEY, best first");
  replicas->add_option("key", key)->required();
  auto* ring = app.add_subcommand(
      "ring", "print the partitions each member of the ring owns");
  auto* cluster = app.add_subcommand(
      "cluster", "run a local multi-node cluster; leave or forget a member");
  cluster->require_subcommand(1);
  ClusterStartOptions start;
  auto* cluster_start =
      cluster->add_subcommand("start", "start nodes n1..nN as local processes");
  cluster_start->add_option("-n", start.nodes, "number of nodes")
      ->check(CLI::Range(1, 99));
  cluster_start
      ->add_option("--base-port", start.base_port,
                   "clients on base+i, peers on base+100+i")
      ->check(CLI::Range(1024, 65000));
  cluster_start
      ->add_option("--replication-factor", start.replication_factor,
                   "replicas of each partition (default 3; every node's with "
                   "at most that many nodes)")
      ->check(CLI::Range(1, 255));
  cluster_start
      ->add_option("--write-quorum", start.write_quorum,
                   "owners a write waits for by default (1: the node's own "
                   "disk)")
      ->check(CLI::Range(1, 255));
  cluster_start
      ->add_option("--read-quorum", start.read_quorum,
                   "owners a read asks and joins by default (1: the node's "
                   "own replica)")
      ->check(CLI::Range(1, 255));
  cluster_start->add_flag(
      "--no-hinted-handoff",
      [&start](int64_t) { start.hinted_handoff = false; },
      "writes for an owner that is down wait for it instead of a stand-in");
  cluster_start->add_flag(
      "--tls", start.tls,
      "mutual TLS between the nodes: a CA and per-node certificates in "
      "<dir>/tls, made with openssl");
  auto* cluster_stop =
      cluster->add_subcommand("stop", "stop every node of the cluster");
  auto* cluster_status = cluster->add_subcommand(
      "status", "per node: pid, alive, keys, root; and whether all agree");
  gossipkv::ClusterAdminCommands admin;
  gossipkv::AddClusterAdminCommands(*cluster, admin);
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
                   "server, clients, storage, membership, ring, peers, "
                   "replication, stats, keyspace");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*put) return Put(o, key, value);
  if (*get) return all ? GetAll(o, key) : Get(o, key);
  if (*del) return Del(o, key);
  if (*cluster_start) return ClusterStart(o, start);
  if (*cluster_stop) return ClusterStop(o);
  if (*cluster_status) return ClusterStatus(o);
  if (admin.chosen())
    return gossipkv::RunClusterAdmin(
        admin, [&] { return ConnectTo(o); }, o.json);
  if (*partition) return Partition(o, spec);
  if (*heal) return Heal(o);
  if (*converge) return Converge(o, watch, timeout_s);
  if (*members) return Members(o);
  if (*digest) return Digest(o);
  if (*replicas) return Replicas(o, key);
  if (*ring) return Ring(o);
  if (*info) return Info(o, section);
  return 2;
}
