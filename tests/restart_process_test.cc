// Restarts under writes and deletes, between five real gossipkv-server
// processes on loopback, with tombstone GC every second and only 20 graves
// remembered: each node in turn is stopped with SIGTERM while the others
// take writes and deletes, then restarted; then each in turn is killed
// with SIGKILL the same way. A stop is a restart, not a leave, so the node
// that is away blocks collection of the tombstones it lacks. At the end no
// deleted key is back on any node, every acknowledged write is on every
// node, all digests agree, and the tombstones have been collected.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::InfoField;
using testing::ServerProcess;
using testing::WaitFor;

constexpr int kNodes = 5;
constexpr int kKeys = 10'000;
constexpr int kPhases = 2 * kNodes;  // SIGTERM each node, then SIGKILL each
constexpr int kBatch = 50;           // keys per MSET

constexpr const char* kConfig = R"(
[gossip]
interval_ms = 100
dead_after_ms = 1500
[replication]
anti_entropy_interval_ms = 1000
gc_interval_ms = 1000
max_graves = 20
[storage]
durability = "fsync"
)";

// A node and every process it has been: a restart is a new process on the
// same data directory, seeded with a peer that is up (ports change).
struct Node {
  std::string id;
  std::vector<std::unique_ptr<ServerProcess>> lives;
  ServerProcess& now() { return *lives.back(); }
  bool up() { return !lives.empty() && now().running(); }
};

void Launch(Node& node, const std::string& seed) {
  std::vector<std::string> args = {"--node-id", node.id, "--fault-injection"};
  if (!seed.empty()) args.insert(args.end(), {"--seeds", seed});
  const std::string dir = node.lives.empty() ? "" : node.now().data_dir();
  node.lives.push_back(std::make_unique<ServerProcess>(kConfig, args, dir));
}

std::string Call(ServerProcess& node, const std::vector<std::string>& args) {
  auto client = node.Connect();
  if (!client) return "<no connection>";
  auto reply = client->Call(args);
  return reply ? reply->ToString() : "<" + reply.error().ToString() + ">";
}

TEST(RestartProcessTest, RestartsAndKillsUnderDeletesLoseNothing) {
  std::vector<Node> nodes(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes[i].id = "n" + std::to_string(i + 1);
    Launch(nodes[i], i == 0 ? "" : nodes[0].now().peer_address());
    ASSERT_TRUE(nodes[i].up());
  }
  auto all_alive = [&] {
    for (auto& n : nodes) {
      if (!n.up() || InfoField(n.now(), "membership", "members_alive") !=
                         std::to_string(kNodes))
        return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_alive, std::chrono::seconds(20)));

  // What each acknowledged command left: a key's value, or nullopt once
  // deleted. A command that failed leaves its keys unknown (unchecked).
  std::map<std::string, std::optional<std::string>> expected;
  int turn = 0;
  auto next_up = [&]() -> ServerProcess& {
    for (;;) {
      Node& n = nodes[turn++ % kNodes];
      if (n.up()) return n.now();
    }
  };
  auto write = [&](int from, int to) {
    for (int i = from; i < to; i += kBatch) {
      std::vector<std::string> args{"MSET"};
      for (int k = i; k < std::min(to, i + kBatch); ++k) {
        args.push_back("key:" + std::to_string(k));
        args.push_back("value-" + std::to_string(k));
      }
      if (Call(next_up(), args) != "OK") {
        for (size_t a = 1; a < args.size(); a += 2) expected.erase(args[a]);
        continue;
      }
      for (size_t a = 1; a < args.size(); a += 2)
        expected[args[a]] = args[a + 1];
    }
  };
  // Deletes every third key of [from, to), one DEL each: a node that has
  // not yet heard of a key deletes nothing (DEL answers 0), like Redis; so
  // only a key whose DEL answered 1 is expected gone.
  auto remove = [&](int from, int to) {
    for (int k = from; k < to; k += 3) {
      const std::string key = "key:" + std::to_string(k);
      const std::string reply = Call(next_up(), {"DEL", key});
      if (reply == "(integer) 1") {
        expected[key] = std::nullopt;
      } else if (reply != "(integer) 0") {
        expected.erase(key);
      }
    }
  };

  const int per_phase = kKeys / kPhases;
  for (int p = 0; p < kPhases; ++p) {
    SCOPED_TRACE("phase " + std::to_string(p));
    Node& away = nodes[p % kNodes];
    const bool kill = p >= kNodes;
    const int base = p * per_phase;
    write(base, base + per_phase / 2);
    if (p > 0) remove(base - per_phase / 2, base);
    if (kill) {
      away.now().Kill();
    } else {
      ASSERT_EQ(away.now().Stop(), 0);
    }
    write(base + per_phase / 2, base + per_phase);
    remove(base, base + per_phase / 2);
    // GC rounds come due while the node is away: they must wait for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    Launch(away, nodes[(p + 1) % kNodes].now().peer_address());
    ASSERT_TRUE(away.up());
    ASSERT_TRUE(WaitFor(all_alive, std::chrono::seconds(20)));
  }
  remove(kKeys - per_phase / 2, kKeys);

  auto digests_agree = [&] {
    const std::string first = Call(nodes[0].now(), {"DIGEST"});
    for (auto& n : nodes) {
      if (Call(n.now(), {"DIGEST"}) != first) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(digests_agree, std::chrono::seconds(60)));
  auto all_collected = [&] {
    for (auto& n : nodes) {
      if (InfoField(n.now(), "replication", "tombstones_stored") != "0")
        return false;
    }
    return true;
  };
  EXPECT_TRUE(WaitFor(all_collected, std::chrono::seconds(60)));
  ASSERT_TRUE(WaitFor(digests_agree, std::chrono::seconds(30)));

  int deleted = 0;
  for (const auto& [key, value] : expected) deleted += !value.has_value();
  ASSERT_GT(deleted, kKeys / 4);
  ASSERT_GT(expected.size(), size_t{kKeys * 9 / 10});
  for (auto& n : nodes) {
    SCOPED_TRACE(n.id);
    EXPECT_NE(InfoField(n.now(), "replication", "tombstones_collected"), "0");
    auto client = n.now().Connect();
    ASSERT_TRUE(client);
    int wrong = 0;
    std::string first_wrong;
    auto it = expected.begin();
    while (it != expected.end()) {
      std::vector<std::string> args{"MGET"};
      std::vector<const std::optional<std::string>*> want;
      for (; it != expected.end() && args.size() <= 500; ++it) {
        args.push_back(it->first);
        want.push_back(&it->second);
      }
      auto reply = client->Call(args);
      ASSERT_TRUE(reply);
      ASSERT_EQ(reply->elements.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const auto& got = reply->elements[i];
        const bool ok = want[i]->has_value()
                            ? !got.is_null() && got.text == **want[i]
                            : got.is_null();
        if (!ok && wrong++ == 0)
          first_wrong = args[i + 1] + " = " + got.ToString();
      }
    }
    EXPECT_EQ(wrong, 0) << "first: " << first_wrong;
  }
}

}  // namespace
}  // namespace gossipkv
