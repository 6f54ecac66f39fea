// Membership unit behaviour: applying states by hand, the address index,
// and a restart that announces a new address.
#include "cluster/membership.h"

#include <gtest/gtest.h>

namespace gossipkv {
namespace {

pb::MemberState State(const std::string& id, const std::string& address,
                      uint64_t incarnation, uint64_t version) {
  pb::MemberState s;
  s.set_node_id(id);
  s.set_peer_address(address);
  s.set_incarnation(incarnation);
  s.set_version(version);
  return s;
}

// Delivers `state` to `m` as an ACK2 from `from`.
void Tell(Membership& m, const pb::MemberState& state, int64_t now) {
  pb::PeerMessage msg;
  msg.set_from(state.node_id());
  *msg.mutable_gossip_ack2()->add_states() = state;
  Outbox out;
  m.Handle(now, state.peer_address(), msg, out);
}

TEST(MembershipTest, AddressIndexFollowsRestartsToNewAddresses) {
  Random random(1);
  Membership m(State("self", "10.0.0.1:1", 1, 0), MembershipOptions{}, random,
               0);
  EXPECT_EQ(m.IdAt("10.0.0.1:1"), "self");
  EXPECT_EQ(m.IdAt("10.0.0.2:1"), "");
  Tell(m, State("n2", "10.0.0.2:1", 5, 3), 100);
  EXPECT_EQ(m.IdAt("10.0.0.2:1"), "n2");
  // An older state changes nothing.
  Tell(m, State("n2", "10.0.0.9:9", 4, 99), 200);
  EXPECT_EQ(m.IdAt("10.0.0.9:9"), "");
  // A restart on another port supersedes the old address.
  Tell(m, State("n2", "10.0.0.2:2", 6, 1), 300);
  EXPECT_EQ(m.IdAt("10.0.0.2:2"), "n2");
  EXPECT_EQ(m.IdAt("10.0.0.2:1"), "");
  EXPECT_EQ(m.AddressOf("n2"), "10.0.0.2:2");
  EXPECT_EQ(m.AddressOf("nobody"), "");
  EXPECT_EQ(m.LivePeerAddresses(), std::vector<std::string>{"10.0.0.2:2"});
  // Another member taking over the old address maps to it.
  Tell(m, State("n3", "10.0.0.2:1", 1, 1), 400);
  EXPECT_EQ(m.IdAt("10.0.0.2:1"), "n3");
  EXPECT_EQ(m.alive_count(), 3u);
}

TEST(MembershipTest, NobodyElseSpeaksForThisNode) {
  Random random(2);
  Membership m(State("self", "a:1", 10, 0), MembershipOptions{}, random, 0);
  Tell(m, State("self", "evil:1", 11, 1), 100);  // a claim about us
  EXPECT_EQ(m.self().peer_address(), "a:1");
  EXPECT_EQ(m.size(), 1u);
}

}  // namespace
}  // namespace gossipkv
