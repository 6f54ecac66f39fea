// The convergence experiment: start N gossipkv nodes as processes, load K
// keys, partition the cluster in two, write W keys on each side (C of them
// on both sides, so they conflict), heal, and sample every node's digest
// every 10 ms until all agree. Reports time to converge, peer bytes and
// messages spent after the heal, keys repaired, and a checker verdict: every
// acknowledged write is present on every node as the value or a sibling, and
// every conflicting key holds both writes as siblings (with --lww: one of
// them as the single winner). Writes a table, JSON, a CSV of the curve
// (agreeing replicas and differing segments over time) and, with gnuplot, a
// PNG of it. --sweep runs 3, 5 and 9 nodes at 1%
// and 10% divergence of 10,000 keys. Exit code 0 only if every run converged
// and passed the checker.
//
// --netns cuts the partition in the kernel instead of the nodes' link
// filters: the experiment re-runs itself in a private network namespace
// (unshare -n), gives every node its own loopback address, and partitions
// with nftables rules that drop the packets between the groups — real
// packet loss, TCP stalls and retransmissions included. It needs root; when
// not root it says so and exits 77 (reported as skipped).
//
//   build/release/bench/convergence_experiment --nodes 3 --keys 1000 --out
//   bench/results
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "bench/bench_cluster.h"
#include "bench/convergence_report.h"
#include "bench/nft_partition.h"
#include "cli/local_cluster.h"

namespace gossipkv {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

uint64_t Sum(LocalCluster& cluster, int n, const char* field) {
  uint64_t total = 0;
  for (int i = 1; i <= n; ++i) {
    auto c = cluster.Connect(fmt::format("n{}", i));
    if (c) total += InfoCounters(**c)[field];
  }
  return total;
}

// Largest group of nodes with equal roots.
int Agreeing(LocalCluster& cluster,
             std::vector<std::unique_ptr<RespClient>>& clients) {
  std::map<std::string, int> groups;
  for (auto& c : clients) {
    auto r = c->Call({"DIGEST"});
    if (r && r->elements.size() == 3) ++groups[r->elements[0].text];
  }
  int best = 0;
  for (auto& [root, count] : groups) best = std::max(best, count);
  return best;
}

size_t MostDifferingSegments(LocalCluster& cluster,
                             const std::vector<LocalNode>& nodes) {
  auto leaves = cluster.Leaves(nodes);
  if (!leaves) return 0;
  size_t worst = 0;
  for (size_t i = 0; i < leaves->size(); ++i) {
    for (size_t j = i + 1; j < leaves->size(); ++j) {
      size_t d = 0;
      for (size_t s = 0; s < (*leaves)[i].size(); ++s)
        d += (*leaves)[i][s] != (*leaves)[j][s];
      worst = std::max(worst, d);
    }
  }
  return worst;
}

// Waits (up to 20 s) until every node sees all of them alive.
void WaitForMembership(LocalCluster& cluster,
                       const std::vector<std::string>& names) {
  auto wait_members = SteadyClock::now() + std::chrono::seconds(20);
  for (const auto& name : names) {
    while (SteadyClock::now() < wait_members) {
      auto c = cluster.Connect(name);
      if (c) {
        auto r = (*c)->Call({"INFO", "membership"});
        if (r && r->text.find(fmt::format("members_alive:{}", names.size())) !=
                     std::string::npos)
          break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

// The checker: every expected value on every node, as the value or a
// sibling (under --lww, one written value as the winner); no deleted key
// back anywhere. Sets o.checker, and o.checker_detail to the first failure.
void CheckReplicas(std::vector<std::unique_ptr<RespClient>>& clients,
                   const std::map<std::string, std::set<std::string>>& expected,
                   const std::set<std::string>& deleted, bool lww, Outcome& o) {
  o.checker = true;
  for (auto& c : clients) {
    for (const auto& key : deleted) {
      auto r = c->Call({"GET", key});
      if (!r || !r->is_null()) {
        o.checker = false;
        if (o.checker_detail.empty())
          o.checker_detail = key + " was deleted and is back";
      }
    }
    for (const auto& [key, values] : expected) {
      auto r = c->Call({"VGET", key});
      std::set<std::string> present;
      if (r && r->elements.size() == 2) {
        for (const auto& s : r->elements[1].elements)
          present.insert(s.elements[0].text);
      }
      if (lww) {
        // Last write wins: one value, one of those written.
        if (present.size() != 1 || !values.count(*present.begin())) {
          o.checker = false;
          if (o.checker_detail.empty())
            o.checker_detail = key + " is not one written winner";
        }
        continue;
      }
      for (const auto& v : values) {
        if (!present.count(v)) {
          o.checker = false;
          if (o.checker_detail.empty())
            o.checker_detail = fmt::format("{} lacks {}", key, v);
        }
      }
      if (values.size() == 2 && present.size() < 2) {
        o.checker = false;
        if (o.checker_detail.empty())
          o.checker_detail = key + " is not two siblings";
      }
    }
  }
}

Outcome Run(const Params& p, const fs::path& work) {
  Outcome o;
  o.p = p;
  LocalCluster cluster(
      (work / fmt::format("cluster-{}n-{}k", p.nodes, p.keys)).string());
  // Each run gets its own cluster directory and configs (LocalCluster:
  // anti-entropy every 2 s).
  cluster.set_replication_factor(p.replication_factor);
  Status started = cluster.Start(p.nodes, p.base_port, FindServerBinary(), "",
                                 p.netns, p.lww ? "lww" : "siblings");
  if (!started.ok()) {
    o.checker_detail = started.message();
    return o;
  }
  auto stop = [&] { (void)cluster.Stop(); };
  std::vector<std::string> names;
  for (int i = 1; i <= p.nodes; ++i) names.push_back(fmt::format("n{}", i));
  WaitForMembership(cluster, names);
  // Expected content: key -> values that must be present (as value or sibling).
  std::map<std::string, std::set<std::string>> expected;
  {
    auto c = cluster.Connect("n1");
    if (!c) {
      o.checker_detail = c.error().message();
      stop();
      return o;
    }
    for (int i = 0; i < p.keys; ++i) {
      (void)(*c)->Send(
          {"SET", fmt::format("key:{:06d}", i), fmt::format("loaded-{}", i)});
      if (i % 500 == 499 || i == p.keys - 1) {
        for (int j = i - (i % 500); j <= i; ++j) {
          auto r = (*c)->Read();
          if (r && r->text == "OK")
            expected[fmt::format("key:{:06d}", j)] = {
                fmt::format("loaded-{}", j)};
        }
      }
    }
  }
  // Everyone agrees before the partition.
  std::vector<std::unique_ptr<RespClient>> clients;
  for (const auto& name : names) {
    auto c = cluster.Connect(name);
    if (c) clients.push_back(std::move(*c));
  }
  auto settle = SteadyClock::now() + std::chrono::seconds(60);
  while (Agreeing(cluster, clients) < p.nodes && SteadyClock::now() < settle) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Partition (as given, or into halves) and write on the first two groups.
  std::vector<std::vector<std::string>> groups;
  if (p.partition.empty()) {
    const int half = std::max(1, p.nodes / 2);
    groups = {{names.begin(), names.begin() + half},
              {names.begin() + half, names.end()}};
  } else {
    auto parsed = ParsePartition(p.partition);
    if (!parsed) {
      o.checker_detail = parsed.error().message();
      stop();
      return o;
    }
    groups = *parsed;
  }
  const auto& left = groups[0];
  const auto& right = groups[1];
  std::string spec;
  for (const auto& g : groups)
    spec += (spec.empty() ? "" : " | ") + fmt::format("{}", fmt::join(g, ","));
  if (Status s = p.netns ? NftPartition(groups) : cluster.Partition(spec);
      !s.ok()) {
    o.checker_detail = s.message();
    stop();
    return o;
  }
  for (int side = 0; side < 2; ++side) {
    const auto& group = side == 0 ? left : right;
    for (int j = 0; j < p.writes; ++j) {
      // The first `conflicts` keys are written on both sides; the rest by
      // one side only (disjoint key ranges).
      const int index = j < p.conflicts
                            ? j
                            : p.conflicts + side * (p.writes - p.conflicts) +
                                  (j - p.conflicts);
      const std::string key =
          fmt::format("key:{:06d}", index % std::max(1, p.keys));
      const std::string value = fmt::format("side{}-{}", side, j);
      auto c = cluster.Connect(group[static_cast<size_t>(j) % group.size()]);
      if (!c) continue;
      auto r = (*c)->Call({"SET", key, value});
      if (!r || r->text != "OK") continue;
      auto& want = expected[key];
      if (j >= p.conflicts) want.clear();  // a plain SET replaces what it read
      if (j < p.conflicts && side == 0) want.clear();
      want.insert(value);
    }
  }
  // Loaded keys beyond both sides' ranges, deleted on the first side: after
  // the heal they must read as absent everywhere.
  std::set<std::string> deleted;
  for (int j = 0; j < p.deletes; ++j) {
    const int index = p.conflicts + 2 * (p.writes - p.conflicts) + j;
    if (index >= p.keys) break;
    const std::string key = fmt::format("key:{:06d}", index);
    auto c = cluster.Connect(left[static_cast<size_t>(j) % left.size()]);
    if (!c) continue;
    auto r = (*c)->Call({"DEL", key});
    if (r && r->integer == 1) {
      deleted.insert(key);
      expected.erase(key);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t bytes0 = Sum(cluster, p.nodes, "peer_bytes_sent");
  const uint64_t frames0 = Sum(cluster, p.nodes, "peer_frames_sent");
  const uint64_t repaired0 = Sum(cluster, p.nodes, "ae_keys_pulled") +
                             Sum(cluster, p.nodes, "rumor_entries_new");
  if (p.netns) {
    (void)NftHeal();
  } else {
    (void)cluster.Heal();
  }
  const auto t0 = SteadyClock::now();
  auto nodes = cluster.Nodes();
  auto last_leaves = t0 - std::chrono::seconds(1);
  while (true) {
    const double t =
        std::chrono::duration<double>(SteadyClock::now() - t0).count();
    Sample s{t, Agreeing(cluster, clients), static_cast<size_t>(-1)};
    if (SteadyClock::now() - last_leaves > std::chrono::milliseconds(200) ||
        s.agreeing == p.nodes) {
      s.differing_segments = nodes ? MostDifferingSegments(cluster, *nodes) : 0;
      last_leaves = SteadyClock::now();
    }
    o.curve.push_back(s);
    if (s.agreeing == p.nodes) {
      o.converged = true;
      o.seconds = t;
      break;
    }
    if (t > 120) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  o.bytes = Sum(cluster, p.nodes, "peer_bytes_sent") - bytes0;
  o.messages = Sum(cluster, p.nodes, "peer_frames_sent") - frames0;
  o.keys_repaired = Sum(cluster, p.nodes, "ae_keys_pulled") +
                    Sum(cluster, p.nodes, "rumor_entries_new") - repaired0;
  CheckReplicas(clients, expected, deleted, p.lww, o);
  stop();
  return o;
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  CLI::App app{"gossipkv convergence experiment"};
  Params p;
  bool sweep = false;
  std::string out = "bench/results";
  app.add_option("--nodes", p.nodes, "cluster size")->check(CLI::Range(2, 50));
  app.add_option("--keys", p.keys, "keys loaded before the partition")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--writes", p.writes,
                 "keys written on each side during the partition");
  app.add_option("--conflicts", p.conflicts, "of those, written on both sides");
  app.add_option("--deletes", p.deletes,
                 "loaded keys deleted on one side during the partition");
  app.add_option("--base-port", p.base_port,
                 "clients on base+i, peers on base+100+i (default: random)");
  app.add_option("--replication-factor", p.replication_factor,
                 "replicas of each partition (default 3)")
      ->check(CLI::Range(1, 255));
  app.add_flag("--sweep", sweep,
               "3, 5, 9 nodes x 1% and 10% divergence of 10,000 keys");
  app.add_option("--out", out, "directory for JSON, CSV and PNG");
  app.add_flag("--netns", p.netns,
               "partition with nftables in a private network namespace (root)");
  app.add_flag("--lww", p.lww,
               "conflict = lww: conflicting keys must end as one winner");
  app.add_option("--partition", p.partition,
                 "groups, e.g. \"n1,n2 | n3,n4,n5\" (default: halves)");
  CLI11_PARSE(app, argc, argv);
  if (p.netns && std::getenv("GOSSIPKV_IN_NETNS") == nullptr) {
    if (geteuid() != 0) {
      std::printf(
          "skipped: --netns needs root (unshare -n and nftables); run without "
          "it for link-filter partitions\n");
      return 77;
    }
    // Run again inside a new network namespace, with loopback up.
    std::string cmd =
        "GOSSIPKV_IN_NETNS=1 unshare -n -- sh -c 'ip link set lo up && exec "
        "\"$0\" \"$@\"'";
    for (int i = 0; i < argc; ++i) cmd += fmt::format(" '{}'", argv[i]);
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  }

  std::vector<Params> plan;
  if (sweep) {
    for (int n : {3, 5, 9}) {
      for (double div : {0.01, 0.10}) {
        Params q = p;
        q.nodes = n;
        q.keys = 10'000;
        q.writes = static_cast<int>(q.keys * div / 2);
        q.conflicts = q.writes / 10;
        plan.push_back(q);
      }
    }
  } else {
    p.conflicts = std::min(p.conflicts, p.writes);
    plan.push_back(p);
  }
  const fs::path work = fs::temp_directory_path() /
                        fmt::format("gossipkv-experiment-{}", getpid());
  std::vector<Outcome> runs;
  std::printf("%5s %7s %9s %9s %10s %12s %9s %9s %s\n", "nodes", "keys",
              "writes/s", "conflicts", "converge_s", "bytes", "messages",
              "repaired", "checker");
  bool all_good = true;
  for (auto& q : plan) {
    q.base_port = p.base_port != 0 ? p.base_port : FreeBasePort(q.nodes);
    Outcome r = Run(q, work);
    all_good &= r.converged && r.checker;
    std::printf("%5d %7d %9d %9d %10.3f %12llu %9llu %9llu %s%s\n", q.nodes,
                q.keys, q.writes, q.conflicts, r.seconds,
                static_cast<unsigned long long>(r.bytes),
                static_cast<unsigned long long>(r.messages),
                static_cast<unsigned long long>(r.keys_repaired),
                r.checker ? "pass" : "FAIL ",
                r.checker ? "" : r.checker_detail.c_str());
    std::fflush(stdout);
    runs.push_back(std::move(r));
  }
  WriteReport(runs, out);
  std::error_code ec;
  fs::remove_all(work, ec);
  std::printf("results in %s (convergence.json, curve-*.csv, curve-*.png)\n",
              out.c_str());
  return all_good ? 0 : 1;
}
