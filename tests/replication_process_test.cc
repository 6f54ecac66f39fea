// Replication between real gossipkv-server processes on loopback: a SET on
// one node is readable on the others; a partition made with FAULT lets both
// sides write the same key; after healing all three nodes hold the same two
// siblings, and a VSET with the merged context resolves them everywhere
// (the same context is refused for another key).
// Deleted keys are collected on every node, but only once the node that was
// cut off when they were deleted is back and holds the deletion too.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

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
[storage]
durability = "buffered"
)";

// `replication` adds lines to the [replication] table.
std::unique_ptr<ServerProcess> StartNode(const std::string& id,
                                         const std::string& seed,
                                         const std::string& replication = "") {
  std::string config = kConfig;
  config.insert(config.find("[storage]"), replication);
  return testing::StartClusterNode(config, id, seed);
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

// True once every node of `nodes` sees `alive` members alive (itself
// included); by default all of them.
bool AllAlive(const std::vector<ServerProcess*>& nodes, size_t alive = 0) {
  if (alive == 0) alive = nodes.size();
  for (auto* n : nodes) {
    if (InfoField(*n, "membership", "members_alive") != std::to_string(alive))
      return false;
  }
  return true;
}

// A numeric INFO field; fails the test if it is absent.
uint64_t Number(ServerProcess& node, const std::string& section,
                const std::string& name) {
  const std::string value = InfoField(node, section, name);
  EXPECT_FALSE(value.empty()) << "INFO " << section << " lacks " << name;
  return value.empty() ? 0 : std::stoull(value);
}

TEST(ReplicationProcessTest, WritesSpreadPartitionsConflictAndContextsResolve) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  std::vector<ServerProcess*> all = {n1.get(), n2.get(), n3.get()};
  ASSERT_TRUE(WaitFor([&] { return AllAlive(all); }, std::chrono::seconds(10)));

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
  const uint64_t n1_dropped = Number(*n1, "peers", "fault_dropped");
  const uint64_t n3_dropped = Number(*n3, "peers", "fault_dropped");
  const uint64_t n1_rumors = Number(*n1, "replication", "rumor_messages_sent");
  ASSERT_EQ(Call(*n1, {"SET", "color", "blue"}), "OK");
  ASSERT_EQ(Call(*n3, {"SET", "color", "red"}), "OK");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Call(*n2, {"GET", "color"}) == "blue";
      },
      std::chrono::seconds(5)));
  EXPECT_GT(Number(*n1, "replication", "rumor_messages_sent"), n1_rumors);
  // The link filter is dropping traffic both ways (gossip alone sends
  // several messages a second across the cut).
  ASSERT_TRUE(WaitFor(
      [&] {
        return Number(*n1, "peers", "fault_dropped") >= n1_dropped + 10 &&
               Number(*n3, "peers", "fault_dropped") >= n3_dropped + 10;
      },
      std::chrono::seconds(5)));
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
  ASSERT_TRUE(WaitFor([&] { return AllAlive(all); }, std::chrono::seconds(10)));
  const uint64_t n1_new = Number(*n1, "replication", "rumor_entries_new");
  const uint64_t n3_new = Number(*n3, "replication", "rumor_entries_new");
  auto [values, context] = Siblings(*n2, "color");
  // The context works only for the key it was read from.
  EXPECT_EQ(Call(*n3, {"VSET", "greeting", "stolen", context}),
            "(error) ERR context token was read from another key (pass the "
            "token VGET returned for this key)");
  EXPECT_EQ(Call(*n3, {"GET", "greeting"}), "hello");
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
  // It got there by rumor: one new entry on each of the other nodes.
  EXPECT_EQ(Number(*n1, "replication", "rumor_entries_new"), n1_new + 1);
  EXPECT_EQ(Number(*n3, "replication", "rumor_entries_new"), n3_new + 1);
}

TEST(ReplicationProcessTest, TombstonesAreCollectedOnlyOnceEveryNodeHasThem) {
  const std::string gc = "gc_interval_ms = 200\n";
  auto n1 = StartNode("n1", "", gc);
  auto n2 = StartNode("n2", n1->peer_address(), gc);
  auto n3 = StartNode("n3", n1->peer_address(), gc);
  std::vector<ServerProcess*> all = {n1.get(), n2.get(), n3.get()};
  ASSERT_TRUE(WaitFor([&] { return AllAlive(all); }, std::chrono::seconds(10)));
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(Call(*n1, {"SET", "k" + std::to_string(i), "v"}), "OK");
  ASSERT_TRUE(WaitFor([&] { return Call(*n3, {"DBSIZE"}) == "(integer) 20"; },
                      std::chrono::seconds(5)));

  // n3 is cut off, and n1 and n2 no longer count it alive; then n1 deletes
  // half the keys.
  Call(*n1, {"FAULT", "BLOCK", "n3"});
  Call(*n2, {"FAULT", "BLOCK", "n3"});
  Call(*n3, {"FAULT", "BLOCK", "n1", "n2"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return AllAlive({n1.get(), n2.get()}, 2);
      },
      std::chrono::seconds(10)));
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(Call(*n1, {"DEL", "k" + std::to_string(i)}), "(integer) 1");
  ASSERT_TRUE(WaitFor([&] { return Call(*n2, {"DBSIZE"}) == "(integer) 10"; },
                      std::chrono::seconds(5)));
  // GC rounds come due on n1 and n2 (every 200 ms) and are deferred, since
  // a member is not alive: none is started, nothing is offered.
  const uint64_t deferred1 = Number(*n1, "replication", "gc_rounds_deferred");
  const uint64_t deferred2 = Number(*n2, "replication", "gc_rounds_deferred");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Number(*n1, "replication", "gc_rounds_deferred") >=
                   deferred1 + 5 &&
               Number(*n2, "replication", "gc_rounds_deferred") >=
                   deferred2 + 5;
      },
      std::chrono::seconds(5)));
  for (auto* n : {n1.get(), n2.get()}) {
    EXPECT_EQ(InfoField(*n, "replication", "gc_rounds"), "0");
    EXPECT_EQ(InfoField(*n, "replication", "gc_tombstones_offered"), "0");
    EXPECT_EQ(InfoField(*n, "replication", "tombstones_collected"), "0");
    EXPECT_EQ(InfoField(*n, "replication", "tombstones_stored"), "10");
  }
  EXPECT_EQ(Call(*n3, {"GET", "k0"}), "v") << "n3 missed the deletes";

  for (auto* n : all) Call(*n, {"FAULT", "UNBLOCK"});
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : all) {
          if (InfoField(*n, "replication", "tombstones_stored") != "0" ||
              InfoField(*n, "storage", "keys_with_tombstones") != "10")
            return false;
        }
        return true;
      },
      std::chrono::seconds(15)))
      << "every node collected the tombstones";
  for (auto* n : all) {
    EXPECT_EQ(Call(*n, {"DBSIZE"}), "(integer) 10");
    EXPECT_EQ(Call(*n, {"GET", "k0"}), "(nil)") << "nothing came back";
    EXPECT_EQ(Call(*n, {"GET", "k19"}), "v");
    // Each node collected each of the ten tombstones once.
    EXPECT_EQ(InfoField(*n, "replication", "tombstones_collected"), "10");
  }
  EXPECT_EQ(Call(*n1, {"DIGEST"}), Call(*n3, {"DIGEST"}));
}

}  // namespace
}  // namespace gossipkv
