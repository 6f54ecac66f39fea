// AntiEntropy: which peer a session is with, and the part of the tree the
// two compare under partitioned storage.
#include <algorithm>

#include "replication/anti_entropy.h"

namespace gossipkv {

const MerkleTree& AntiEntropy::TreeFor(const std::string& address) {
  const std::vector<bool>* shared =
      scope_ != nullptr ? scope_->SharedWith(address) : nullptr;
  if (shared == nullptr) return store_.tree();
  shared_tree_ = MerkleTree::Restricted(store_.tree(), *shared);
  return *shared_tree_;
}

bool AntiEntropy::Shares(const std::string& address, uint32_t segment) {
  const std::vector<bool>* shared =
      scope_ != nullptr ? scope_->SharedWith(address) : nullptr;
  return shared == nullptr || (segment < shared->size() && (*shared)[segment]);
}

std::string AntiEntropy::RandomLivePeer(const std::string& except) {
  std::vector<std::string> peers = membership_.LivePeerAddresses();
  std::erase(peers, except);
  if (scope_ != nullptr && scope_->Partial()) {
    // Only peers it shares a partition with have anything to compare.
    std::erase_if(peers, [&](const std::string& peer) {
      const std::vector<bool>* shared = scope_->SharedWith(peer);
      return shared != nullptr &&
             std::find(shared->begin(), shared->end(), true) == shared->end();
    });
  }
  return peers.empty() ? "" : peers[random_.Uniform(peers.size())];
}

}  // namespace gossipkv
