// Replication between real gossipkv-server processes on loopback: a SET on
// one node is readable on the others; a partition made with FAULT lets both
// sides write the same key; after healing all three nodes hold the same two
// siblings, and a VSET with the merged context resolves them everywhere.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::ServerProcess;
using testing::WaitFor;

constexpr const char* kConfig = R"(
[gossip]
interval_ms = 100
dead_after_ms = 1000
[replication]
anti_entropy_interval_ms = 500
[storage]
durability = "buffered"
)";

std::unique_ptr<ServerProcess> StartNode(const std::string& id,
                                         const std::string& seed) {
  return testing::StartClusterNode(kConfig, id, seed);
}

std::string Call(ServerProcess& node, std::vector<std::string> args) {
  auto client = node.Connect();
  auto reply = client->Call(args);
  return reply ? reply->ToString() : "<" + reply.error().ToString() + ">";
}

// The sibling values of `key` on `node`, and the context token.
std::pair<std::multiset<std::string>, std::string> Siblings(
    ServerProcess& node, const std::string& key) {
  auto client = node.Connect();
  auto reply = client->Call({"VGET", key});
  std::multiset<std::string> values;
  if (!reply || reply->elements.size() != 2) return {values, ""};
  for (const auto& s : reply->elements[1].elements)
    values.insert(s.elements[0].text);
  return {values, reply->elements[0].text};
}

TEST(ReplicationProcessTest, WritesSpreadPartitionsConflictAndContextsResolve) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  std::vector<ServerProcess*> all = {n1.get(), n2.get(), n3.get()};
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          if (Call(*n, {"INFO", "membership"}).find("members_alive:3") ==
              std::string::npos)
            return false;
        }
        return true;
      },
      std::chrono::seconds(10)));

  ASSERT_EQ(Call(*n1, {"SET", "greeting", "hello"}), "OK");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Call(*n2, {"GET", "greeting"}) == "hello" &&
               Call(*n3, {"GET", "greeting"}) == "hello";
      },
      std::chrono::seconds(5)))
      << "a SET on n1 is readable on n2 and n3";

  // Partition "n1,n2 | n3", then write the same key on both sides.
  Call(*n1, {"FAULT", "BLOCK", "n3"});
  Call(*n2, {"FAULT", "BLOCK", "n3"});
  Call(*n3, {"FAULT", "BLOCK", "n1", "n2"});
  ASSERT_EQ(Call(*n1, {"SET", "color", "blue"}), "OK");
  ASSERT_EQ(Call(*n3, {"SET", "color", "red"}), "OK");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Call(*n2, {"GET", "color"}) == "blue";
      },
      std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Call(*n3, {"GET", "color"}), "red") << "the partition holds";

  for (auto* n : all) Call(*n, {"FAULT", "UNBLOCK"});
  const std::multiset<std::string> both = {"blue", "red"};
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          if (Siblings(*n, "color").first != both) return false;
        }
        return true;
      },
      std::chrono::seconds(15)))
      << "after healing every node holds both siblings";
  ASSERT_TRUE(WaitFor(
      [&] {
        return Call(*n1, {"DIGEST"}) == Call(*n2, {"DIGEST"}) &&
               Call(*n2, {"DIGEST"}) == Call(*n3, {"DIGEST"});
      },
      std::chrono::seconds(10)))
      << "equal digests";

  // A client reads both, resolves, and writes back with the merged context.
  auto [values, context] = Siblings(*n2, "color");
  ASSERT_EQ(Call(*n2, {"VSET", "color", "purple", context}), "OK");
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          if (Siblings(*n, "color").first !=
              std::multiset<std::string>{"purple"})
            return false;
        }
        return true;
      },
      std::chrono::seconds(10)))
      << "resolved to one value on every node";
  EXPECT_NE(Call(*n3, {"INFO", "replication"}).find("rumor_entries_new"),
            std::string::npos);
}

}  // namespace
}  // namespace gossipkv
