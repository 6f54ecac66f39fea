// LinkFilter: fault injection in the peer transport. It drops every message
// to or from blocked node ids (a partition, without root or iptables) and
// each other message with a given probability. Driven by the FAULT client
// commands, which the node refuses unless fault_injection is on.
// One thread (the node's loop).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "util/random.h"

namespace gossipkv {

class LinkFilter {
 public:
  explicit LinkFilter(uint64_t seed) : random_(seed) {}

  void Block(const std::vector<std::string>& node_ids);
  // No ids: unblock everyone.
  void Unblock(const std::vector<std::string>& node_ids);
  void set_drop_probability(double p) { drop_probability_ = p; }

  // True if a message to/from `node_id` ("" when not yet known) may pass.
  bool Allows(const std::string& node_id);

  const std::set<std::string>& blocked() const { return blocked_; }
  double drop_probability() const { return drop_probability_; }
  uint64_t dropped() const { return dropped_; }

 private:
  Random random_;
  std::set<std::string> blocked_;
  double drop_probability_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace gossipkv
