// LinkFilter: a set of blocked ids and a drop probability.
#include "server/link_filter.h"

namespace gossipkv {

void LinkFilter::Block(const std::vector<std::string>& node_ids) {
  blocked_.insert(node_ids.begin(), node_ids.end());
}

void LinkFilter::Unblock(const std::vector<std::string>& node_ids) {
  if (node_ids.empty()) {
    blocked_.clear();
    return;
  }
  for (const auto& id : node_ids) blocked_.erase(id);
}

bool LinkFilter::Allows(const std::string& node_id) {
  if ((!node_id.empty() && blocked_.count(node_id)) ||
      (drop_probability_ > 0 && random_.Bernoulli(drop_probability_))) {
    ++dropped_;
    return false;
  }
  return true;
}

}  // namespace gossipkv
