// Large values between real gossipkv-server processes on loopback, at the
// default limits: a 12 MiB value and one of exactly max_value_bytes written
// on n1 reach n3 (by rumor or by anti-entropy) and the digests agree; a write
// whose siblings together would outgrow a peer frame is refused with -ERR.
#include <gtest/gtest.h>

#include <chrono>

#include "config/config.h"
#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::InfoField;
using testing::ServerProcess;
using testing::WaitFor;

constexpr const char* kConfig = R"(
[gossip]
interval_ms = 100
dead_after_ms = 2000
[replication]
anti_entropy_interval_ms = 500
[storage]
durability = "buffered"
)";

std::string Call(ServerProcess& node, std::vector<std::string> args) {
  auto client = node.Connect();
  if (!client) return "<no connection>";
  auto reply = client->Call(args);
  return reply ? reply->ToString() : "<" + reply.error().ToString() + ">";
}

// The value of `key` on `node`, or "" when absent or unreadable.
std::string Get(ServerProcess& node, const std::string& key) {
  auto client = node.Connect();
  if (!client) return "";
  auto reply = client->Call({"GET", key});
  return reply ? reply->text : "";
}

std::string Filled(size_t size, char seed) {
  std::string value(size, ' ');
  for (size_t i = 0; i < size; ++i)
    value[i] = static_cast<char>('a' + (seed + i * 7) % 26);
  return value;
}

TEST(LargeValueProcessTest, ValuesUpToMaxValueBytesReplicate) {
  const size_t max_value = Config{}.limits.max_value_bytes;
  auto n1 = testing::StartClusterNode(kConfig, "n1", "");
  auto n2 = testing::StartClusterNode(kConfig, "n2", n1->peer_address());
  auto n3 = testing::StartClusterNode(kConfig, "n3", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running() && n3->running());
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto* n : {n1.get(), n2.get(), n3.get()})
          if (InfoField(*n, "membership", "members_alive") != "3") return false;
        return true;
      },
      std::chrono::seconds(10)));

  const std::string twelve = Filled(12 << 20, 1);
  const std::string largest = Filled(max_value, 2);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(Call(*n1, {"SET", "twelve", twelve}), "OK");
  ASSERT_EQ(Call(*n1, {"SET", "largest", largest}), "OK");
  EXPECT_NE(Call(*n1, {"SET", "over", Filled(max_value + 1, 3)}), "OK");

  EXPECT_TRUE(WaitFor(
      [&] {
        return Get(*n3, "twelve") == twelve && Get(*n3, "largest") == largest &&
               Call(*n1, {"DIGEST"}) == Call(*n3, {"DIGEST"}) &&
               Call(*n2, {"DIGEST"}) == Call(*n3, {"DIGEST"});
      },
      std::chrono::seconds(10)))
      << "n3 holds both values and the digests agree";
  std::printf(
      "12 MiB and %zu-byte values readable on n3, digests equal, "
      "after %lld ms\n",
      max_value,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - started)
              .count()));
  for (auto* n : {n1.get(), n2.get(), n3.get()})
    EXPECT_EQ(InfoField(*n, "peers", "peer_dropped_oversized"), "0");
}

// Two siblings of max_value_bytes each would make an entry no peer frame
// carries: the write that would create it is refused, naming why, and the
// key keeps what it had.
TEST(LargeValueProcessTest, AWriteWhoseSiblingsOutgrowAFrameIsRefused) {
  const size_t max_value = Config{}.limits.max_value_bytes;
  auto n1 = testing::StartClusterNode(kConfig, "n1", "");
  ASSERT_TRUE(n1->running());
  auto client = n1->Connect();
  ASSERT_TRUE(client);
  // The context of the key while absent: a VSET with it is concurrent
  // with the SET that follows, so both values would be kept as siblings.
  auto before = client->Call({"VGET", "k"});
  ASSERT_TRUE(before && before->elements.size() == 2);
  const std::string empty_context = before->elements[0].text;
  const std::string first = Filled(max_value, 4);
  ASSERT_EQ(client->Call({"SET", "k", first})->ToString(), "OK");
  auto reply = client->Call({"VSET", "k", Filled(max_value, 5), empty_context});
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->ToString().find("max_frame_bytes"), std::string::npos)
      << reply->ToString();
  EXPECT_EQ(Get(*n1, "k"), first);
}

}  // namespace
}  // namespace gossipkv
