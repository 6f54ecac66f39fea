// The member lifecycle between real gossipkv-server processes on loopback:
// a node killed with SIGKILL blocks tombstone GC on the others (INFO names
// it in gc_blocked_by) until CLUSTER FORGET removes it; then every deletion
// is collected, and the forgotten node — restarted on its old data
// directory with the same id — is refused: it appears in no CLUSTER NODES,
// MEMBERS or INFO member count, and learns it was forgotten.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::InfoField;
using testing::ServerProcess;
using testing::WaitFor;

constexpr const char* kConfig = R"(
[gossip]
interval_ms = 100
dead_after_ms = 1000
[replication]
anti_entropy_interval_ms = 500
gc_interval_ms = 200
[storage]
durability = "buffered"
)";

std::unique_ptr<ServerProcess> StartNode(const std::string& id,
                                         const std::string& seed) {
  return testing::StartClusterNode(kConfig, id, seed);
}

std::string Call(ServerProcess& node, std::vector<std::string> args) {
  auto client = node.Connect();
  if (!client) return "<no connection>";
  auto reply = client->Call(args);
  return reply ? reply->ToString() : "<" + reply.error().ToString() + ">";
}

std::string Info(ServerProcess& node, const std::string& section,
                 const std::string& name) {
  return InfoField(node, section, name);
}

// True when `node`'s CLUSTER NODES and MEMBERS both list `id`.
bool Lists(ServerProcess& node, const std::string& id) {
  auto client = node.Connect();
  if (!client) return false;
  auto nodes = client->Call({"CLUSTER", "NODES"});
  auto members = client->Call({"MEMBERS"});
  if (!nodes || !members) return false;
  bool in_members = false;
  for (const auto& row : members->elements) {
    if (!row.elements.empty() && row.elements[0].text == id) in_members = true;
  }
  const bool in_nodes = nodes->text.find(id + " ") == 0 ||
                        nodes->text.find("\n" + id + " ") != std::string::npos;
  EXPECT_EQ(in_nodes, in_members) << "CLUSTER NODES and MEMBERS disagree";
  return in_nodes;
}

TEST(LifecycleProcessTest, ForgettingAKilledNodeLetsTombstoneGcProceed) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running() && n3->running());
  auto all_alive = [&] {
    for (auto* n : {n1.get(), n2.get(), n3.get()}) {
      if (Info(*n, "membership", "members_alive") != "3") return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_alive, std::chrono::seconds(10)));
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(Call(*n1, {"SET", "k" + std::to_string(i), "v"}), "OK");
  ASSERT_TRUE(WaitFor([&] { return Call(*n3, {"DBSIZE"}) == "(integer) 10"; },
                      std::chrono::seconds(5)));

  n3->Kill();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Info(*n1, "membership", "members_dead") == "1" &&
               Info(*n2, "membership", "members_dead") == "1";
      },
      std::chrono::seconds(15)));
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(Call(*n1, {"DEL", "k" + std::to_string(i)}), "(integer) 1");
  ASSERT_TRUE(WaitFor([&] { return Call(*n2, {"DBSIZE"}) == "(integer) 0"; },
                      std::chrono::seconds(5)));
  // Rounds come due and are deferred: n3 may hold the values.
  const std::string deferred = Info(*n1, "replication", "gc_rounds_deferred");
  ASSERT_FALSE(deferred.empty());
  ASSERT_TRUE(WaitFor(
      [&] {
        return std::stoull(Info(*n1, "replication", "gc_rounds_deferred")) >=
               std::stoull(deferred) + 5;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Info(*n1, "replication", "tombstones_stored"), "10");
  EXPECT_EQ(Info(*n2, "replication", "tombstones_stored"), "10");
  EXPECT_EQ(Info(*n1, "replication", "gc_blocked_by"), "n3");
  EXPECT_EQ(Info(*n1, "replication", "tombstones_collected"), "0");

  EXPECT_EQ(
      Call(*n1, {"CLUSTER", "FORGET", "n1"}),
      "(error) ERR cannot forget this node itself (CLUSTER LEAVE takes a node "
      "out)");
  EXPECT_EQ(Call(*n1, {"CLUSTER", "FORGET", "n2"}),
            "(error) ERR n2 is alive: only a member that is down (suspect or "
            "dead) or "
            "has left can be forgotten");
  EXPECT_EQ(Call(*n1, {"CLUSTER", "FORGET", "n9"}),
            "(error) ERR unknown node id n9");
  ASSERT_EQ(Call(*n1, {"CLUSTER", "FORGET", "n3"}), "OK");

  ASSERT_TRUE(WaitFor(
      [&] {
        return Info(*n1, "replication", "tombstones_stored") == "0" &&
               Info(*n2, "replication", "tombstones_stored") == "0";
      },
      std::chrono::seconds(10)))
      << "tombstones not collected after the forget";
  for (auto* n : {n1.get(), n2.get()}) {
    EXPECT_EQ(Info(*n, "replication", "gc_blocked_by"), "");
    EXPECT_EQ(Info(*n, "membership", "members"), "2");
    EXPECT_EQ(Info(*n, "membership", "forgotten"), "n3");
    EXPECT_FALSE(Lists(*n, "n3"));
    EXPECT_TRUE(Lists(*n, "n1") && Lists(*n, "n2"));
  }

  // n3 comes back on its old data, with the same id: refused.
  n3->Restart();
  ASSERT_TRUE(n3->running());
  ASSERT_TRUE(
      WaitFor([&] { return Info(*n3, "membership", "self_forgotten") == "1"; },
              std::chrono::seconds(10)))
      << "n3 never learned it was forgotten";
  // Writes there would never replicate: refused, naming why.
  EXPECT_NE(Call(*n3, {"SET", "late", "v"}).find("forgotten"),
            std::string::npos);
  ASSERT_TRUE(WaitFor(
      [&] { return Info(*n1, "membership", "refused_messages") != "0"; },
      std::chrono::seconds(10)));
  for (auto* n : {n1.get(), n2.get()}) {
    EXPECT_FALSE(Lists(*n, "n3"));
    EXPECT_EQ(Info(*n, "membership", "members"), "2");
    EXPECT_EQ(Call(*n, {"DBSIZE"}), "(integer) 0");
  }
}

}  // namespace
}  // namespace gossipkv
