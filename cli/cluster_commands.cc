// The CLI's commands on a local cluster of real processes.
#include "cli/cluster_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "cli/local_cluster.h"
#include "util/bytes.h"

namespace gossipkv::cli {
namespace {

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

// Judges the replicas partition by partition (DIGEST PARTITIONS): "every
// partition's owners agree (P partitions)" when, for every partition, the
// up nodes that own it report one hash; else how many disagree and the
// first of them with each owner's hash.
std::string PartitionAgreement(const LocalCluster& cluster,
                               const std::vector<LocalNode>& nodes,
                               bool* all_agree) {
  // partition -> (owner, hash) as each up owner reports it
  std::map<uint32_t, std::vector<std::pair<std::string, uint64_t>>> reports;
  std::vector<std::string> silent;  // running, but no partitions read
  for (const auto& n : nodes) {
    if (n.pid == 0) continue;
    auto client = cluster.Connect(n.name);
    auto reply = client ? (*client)->Call({"DIGEST", "PARTITIONS"})
                        : Result<RespValue>(client.error());
    if (!reply || reply->type != RespValue::Type::kBulk) {
      silent.push_back(n.name);
      continue;
    }
    const std::string& packed = reply->text;
    for (size_t at = 0; at + 12 <= packed.size(); at += 12) {
      const std::string_view record(packed.data() + at, 12);
      reports[ReadBigEndian32(record)].emplace_back(
          n.name, ReadBigEndian64(record.substr(4)));
    }
  }
  size_t disagree = 0;
  std::string first;
  for (const auto& [partition, owners] : reports) {
    const bool same = std::all_of(
        owners.begin(), owners.end(),
        [&](const auto& o) { return o.second == owners[0].second; });
    if (same) continue;
    if (disagree++ == 0) {
      first = fmt::format("partition {}:", partition);
      for (const auto& [owner, hash] : owners)
        first += fmt::format(" {}={:016x}", owner, hash);
    }
  }
  *all_agree = !reports.empty() && disagree == 0 && silent.empty();
  if (!silent.empty())
    return fmt::format("partitions unread from {}", fmt::join(silent, ","));
  if (reports.empty()) return "no node reported its partitions";
  if (disagree == 0)
    return fmt::format("every partition's owners agree ({} partitions)",
                       reports.size());
  return fmt::format("owners disagree on {} of {} partitions, first {}",
                     disagree, reports.size(), first);
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

// Segments whose hashes differ between two nodes' leaves.
size_t DifferingSegments(const std::vector<uint64_t>& a,
                         const std::vector<uint64_t>& b) {
  size_t differ = 0;
  for (size_t s = 0; s < a.size() && s < b.size(); ++s) differ += a[s] != b[s];
  return differ;
}

}  // namespace

int ClusterStart(const Options& o, const ClusterStartOptions& start) {
  LocalCluster cluster = ClusterOf(o);
  cluster.set_peer_tls(start.tls);
  cluster.set_replication_factor(start.replication_factor);
  cluster.set_write_quorum(start.write_quorum);
  cluster.set_read_quorum(start.read_quorum);
  const int n = start.nodes;
  // Appended to the [replication] section.
  const std::string extra =
      start.hinted_handoff ? "" : "hinted_handoff = false\n";
  if (Status s = cluster.Start(n, start.base_port, FindServerBinary(), extra);
      !s.ok())
    return Error(s.message());
  std::printf(
      "started %d nodes in %s (clients on 127.0.0.1:%d-%d, logs in "
      "%s/nN.log%s)\n",
      n, o.dir.c_str(), start.base_port + 1, start.base_port + n, o.dir.c_str(),
      start.tls ? "; peers speak mutual TLS with the certificates in tls/"
                : "");
  std::printf(
      "try: gossipkv --node n1 put k v; gossipkv --node n%d get k; gossipkv "
      "cluster status\n",
      n);
  return kOk;
}

int ClusterStop(const Options& o) {
  if (Status s = ClusterOf(o).Stop(); !s.ok()) return Error(s.message());
  std::printf("stopped the cluster in %s\n", o.dir.c_str());
  return kOk;
}

int ClusterStatus(const Options& o) {
  LocalCluster cluster = ClusterOf(o);
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
  std::printf("%s\n", PartitionAgreement(cluster, *nodes, &agree).c_str());
  return kOk;
}

int Partition(const Options& o, const std::string& spec) {
  if (Status s = ClusterOf(o).Partition(spec); !s.ok())
    return Error(s.message());
  std::printf("partitioned: %s\n", spec.c_str());
  return kOk;
}

int Heal(const Options& o) {
  if (Status s = ClusterOf(o).Heal(); !s.ok()) return Error(s.message());
  std::printf("healed: every link open again\n");
  return kOk;
}

int Converge(const Options& o, bool watch, double timeout_s) {
  LocalCluster cluster = ClusterOf(o);
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
    // Converged: every partition's owners agree, and, while every node
    // stores every key, every root too.
    bool roots_agree = false, owners_agree = false;
    const std::string summary = Agreement(Digests(cluster, up), &roots_agree) +
                                "; " +
                                PartitionAgreement(cluster, up, &owners_agree);
    const bool agree = roots_agree && owners_agree;
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::string pairs;
    for (size_t i = 0; i < up.size(); ++i) {
      for (size_t j = i + 1; j < up.size(); ++j) {
        const size_t differ = DifferingSegments((*leaves)[i], (*leaves)[j]);
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
        const size_t differ = DifferingSegments((*leaves)[i], (*leaves)[j]);
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

}  // namespace gossipkv::cli
