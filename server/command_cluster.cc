// CommandExecutor's handlers for what the node knows beyond the store:
// MEMBERS, REPLICAS, CONSISTENCY, DIGEST, FAULT and CLUSTER.
#include <fmt/format.h>

#include "server/command_call.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

void CommandExecutor::MembersCommand(Call& c) {
  // One row per member: id, peer address, client address, status ("self"
  // for this node), heartbeat age in ms, phi.
  auto members = node_.Members();
  resp::AppendArrayHeader(c.out, members.size());
  for (const auto& m : members) {
    resp::AppendArrayHeader(c.out, 6);
    resp::AppendBulk(c.out, m.node_id);
    resp::AppendBulk(c.out, m.peer_address);
    resp::AppendBulk(c.out, m.client_address);
    resp::AppendBulk(c.out, m.self ? "self" : LivenessName(m.liveness));
    resp::AppendInteger(c.out, m.heartbeat_age_ms);
    resp::AppendBulk(c.out, fmt::format("{:.2f}", m.phi));
  }
}

void CommandExecutor::ReplicasCommand(Call& c) {
  // REPLICAS key: the owners of the key's partition, best first.
  if (!CheckKey(c, c.args[1])) return;
  const Ring& ring = node_.ring();
  auto replicas = ring.OwnerIds(ring.PartitionOfKey(c.args[1]));
  resp::AppendArrayHeader(c.out, replicas.size());
  for (const auto& id : replicas) resp::AppendBulk(c.out, id);
}

void CommandExecutor::Consistency(Call& c) {
  // CONSISTENCY ONE | QUORUM | ALL: how many owners this connection's
  // writes wait for. The session keeps it.
  const uint32_t n = node_.ring().options().replication_factor;
  const std::string level = AsciiUpper(c.args[1]);
  if (level == "ONE") {
    consistency_ = 1;
  } else if (level == "QUORUM") {
    consistency_ = n / 2 + 1;
  } else if (level == "ALL") {
    consistency_ = n;
  } else {
    resp::AppendError(c.out, "ERR usage: CONSISTENCY ONE | QUORUM | ALL");
    ++stats_.error_replies;
    return;
  }
  resp::AppendSimple(c.out, "OK");
}

void CommandExecutor::Digest(Call& c) {
  // DIGEST PARTITIONS: for each partition this node owns, in order, its
  // number (be32) and hash (be64): the sum of its segments' hashes, as the
  // tree sums children, so equal hashes mean equal data in it.
  const MerkleTree& tree = store_.tree();
  if (c.args.size() == 2 && AsciiLower(c.args[1]) == "partitions") {
    const int bits = node_.ring().options().partition_bits;
    if (bits > tree.shape().segment_bits) {
      resp::AppendError(c.out,
                        "ERR partitions are finer than the Merkle segments");
      ++stats_.error_replies;
      return;
    }
    const uint32_t per = 1u << (tree.shape().segment_bits - bits);
    std::string packed;
    for (uint32_t p : node_.OwnedPartitions()) {
      uint64_t hash = 0;
      for (uint32_t s = p * per; s < (p + 1) * per; ++s)
        hash += tree.Node(tree.depth(), s);
      AppendBigEndian32(packed, p);
      AppendBigEndian64(packed, hash);
    }
    resp::AppendBulk(c.out, packed);
    return;
  }
  // DIGEST LEAVES: every segment hash, packed big-endian u64s, so a tool can
  // count the segments in which two nodes differ.
  if (c.args.size() == 2) {
    if (AsciiLower(c.args[1]) != "leaves") {
      resp::AppendError(c.out, "ERR usage: DIGEST [LEAVES | PARTITIONS]");
      ++stats_.error_replies;
      return;
    }
    std::string packed;
    packed.reserve(tree.shape().segment_count() * 8);
    for (uint32_t i = 0; i < tree.NodesAt(tree.depth()); ++i) {
      AppendBigEndian64(packed, tree.Node(tree.depth(), i));
    }
    resp::AppendBulk(c.out, packed);
    return;
  }
  // [root hash (hex), keys stored (tombstones included), live keys]: equal
  // roots on two nodes mean equal data.
  resp::AppendArrayHeader(c.out, 3);
  resp::AppendBulk(c.out, fmt::format("{:016x}", store_.tree().Root()));
  resp::AppendInteger(c.out, static_cast<int64_t>(store_.key_count()));
  resp::AppendInteger(c.out, static_cast<int64_t>(store_.live_key_count()));
}

void CommandExecutor::FaultCommand(Call& c) {
  std::vector<std::string> args(c.args.begin() + 1, c.args.end());
  node_.Fault(args, c.out);
}

void CommandExecutor::ClusterCommand(Call& c) {
  std::vector<std::string> args(c.args.begin() + 1, c.args.end());
  node_.Cluster(args, c.out);
}

}  // namespace gossipkv
