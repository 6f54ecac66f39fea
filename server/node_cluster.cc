// Node: the operator's cluster commands (CLUSTER LEAVE, FORGET, NODES,
// RING), REPLICAS, the membership and ring INFO sections and the lifecycle
// log lines.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/node.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

void Node::Cluster(const std::vector<std::string>& args, std::string& out) {
  const std::string sub = AsciiUpper(args[0]);
  if (sub == "LEAVE" && args.size() == 1) {
    if (leaving_) {
      resp::AppendError(out, "ERR this node is already leaving the cluster");
      return;
    }
    // For good: peers mark it left and stop waiting for it (tombstone GC
    // no longer asks it). The reply goes out, then the node stops.
    leaving_ = true;
    spdlog::warn("CLUSTER LEAVE: node {} leaves the cluster for good",
                 config_.node_id);
    driver_->Leave(NowMs());
    Shutdown([this] {
      if (on_left_) on_left_();
    });
    resp::AppendSimple(out, "OK");
  } else if (sub == "FORGET" && args.size() == 2) {
    // The forgotten set joins the store's batch: the session replies once
    // it is stored, and gossip spreads it. Gossip carries it at once, so
    // a disk known to refuse the commit refuses the command first.
    if (Status writable = engine_->Writable(); !writable.ok()) {
      resp::AppendError(
          out, "MISCONF cannot store the forget: " + writable.message());
      return;
    }
    if (Status forgotten = driver_->Forget(args[1]); !forgotten.ok()) {
      resp::AppendError(out, "ERR " + forgotten.message());
      return;
    }
    spdlog::warn(
        "CLUSTER FORGET: node {} is forgotten for good; tombstone GC no "
        "longer waits for it, and it is refused should it come back",
        args[1]);
    resp::AppendSimple(out, "OK");
  } else if (sub == "NODES" && args.size() == 1) {
    // One line per member: id, peer address, client address, status
    // ("self" for this node), incarnation.
    std::string lines;
    for (const auto& m : Members()) {
      lines += fmt::format(
          "{} {} {} {} {}\n", m.node_id, m.peer_address, m.client_address,
          m.self ? "self" : LivenessName(m.liveness), m.incarnation);
    }
    resp::AppendBulk(out, lines);
  } else if (sub == "RING" && args.size() == 1) {
    // One line per ring member: id, partitions owned, and which ("0-3,7").
    const Ring& ring = replica_->ring();
    std::string lines;
    for (size_t i = 0; i < ring.members().size(); ++i) {
      const auto owned = ring.PartitionsOf(static_cast<int>(i));
      lines += fmt::format("{} {} {}\n", ring.members()[i], owned.size(),
                           PartitionRanges(owned));
    }
    resp::AppendBulk(out, lines);
  } else {
    resp::AppendError(out,
                      "ERR usage: CLUSTER LEAVE | CLUSTER FORGET node-id | "
                      "CLUSTER NODES | CLUSTER RING");
  }
}

std::vector<uint32_t> Node::OwnedPartitions() {
  const Ring& ring = replica_->ring();
  return ring.PartitionsOf(ring.IndexOf(config_.node_id));
}

void Node::AppendRingInfo(std::string& out) {
  const Ring& ring = replica_->ring();
  const int self = ring.IndexOf(config_.node_id);
  const auto& loads = ring.loads();
  const double mean = static_cast<double>(ring.partition_count()) *
                      ring.replicas() / static_cast<double>(loads.size());
  const uint32_t most = *std::max_element(loads.begin(), loads.end());
  out += fmt::format(
      "replication_factor:{}\r\nring_replicas:{}\r\nring_partitions:{}\r\n"
      "ring_members:{}\r\nring_owned_partitions:{}\r\n"
      "ring_max_over_mean:{:.4f}\r\nring_fingerprint:{:016x}\r\n",
      ring.options().replication_factor, ring.replicas(),
      ring.partition_count(), ring.members().size(), self < 0 ? 0 : loads[self],
      most / mean, ring.fingerprint());
}

std::string Node::WriteRefusal() {
  if (!replica_ || !replica_->membership().self_forgotten()) return {};
  return "this node was forgotten by the cluster (CLUSTER FORGET): writes "
         "here would never replicate; restart it with a new node id and an "
         "empty data directory";
}

void Node::AppendMembershipInfo(std::string& out) {
  size_t counts[4] = {0, 0, 0, 0};
  auto members = Members();
  for (const auto& m : members) ++counts[static_cast<int>(m.liveness)];
  const Membership& membership = replica_->membership();
  const auto& self = membership.self();
  std::vector<std::string> forgotten;
  for (const auto& [id, incarnation] : membership.forgotten())
    forgotten.push_back(id);
  out += fmt::format(
      "members:{}\r\nmembers_alive:{}\r\nmembers_suspect:{}\r\nmembers_dead:{}"
      "\r\nmembers_left:{}\r\nmembers_forgotten:{}\r\nforgotten:{}\r\n"
      "self_forgotten:{}\r\nincarnation:{}\r\nrefutations:{}\r\n"
      "refused_messages:{}\r\nheartbeat:{}\r\ngossip_interval_ms:{}\r\n"
      "phi_threshold:{}\r\n",
      members.size(), counts[0], counts[1], counts[2], counts[3],
      forgotten.size(), fmt::join(forgotten, ","),
      membership.self_forgotten() ? 1 : 0, self.incarnation(),
      membership.refutations(), membership.refused_messages(), self.version(),
      config_.gossip.interval_ms, config_.gossip.phi_threshold);
}

void Node::LogLifecycle() {
  Membership& membership = replica_->membership();
  for (const auto& id : membership.TakeNewlyRefused()) {
    spdlog::warn(
        "refusing node {}: it was forgotten (CLUSTER FORGET) and came back "
        "with the same id; to rejoin, it needs a new node id and an empty "
        "data directory",
        id);
  }
  if (membership.self_forgotten() && !logged_self_forgotten_) {
    logged_self_forgotten_ = true;
    spdlog::error(
        "this node ({}) was forgotten by the cluster (CLUSTER FORGET): peers "
        "refuse it, and it no longer gossips; to rejoin, start it with a new "
        "node id and an empty data directory",
        config_.node_id);
  }
}

}  // namespace gossipkv
