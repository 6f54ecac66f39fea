// A real gossipkv-server with a 1 MiB client memory budget: the client
// holding the most buffered bytes is refused and closed while another keeps
// being served; a bulk header over max_value_bytes is refused before any of
// its payload arrives.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::ServerProcess;
using testing::WaitFor;

constexpr const char* kSmallBudget = R"(
[storage]
durability = "buffered"
[limits]
max_key_bytes = 1024
max_value_bytes = 65536
max_request_bytes = 1048576
max_client_memory_mb = 1
)";

std::string Text(const Result<RespValue>& r) {
  return r ? r->ToString() : "<" + r.error().ToString() + ">";
}

bool ClosedByServer(RespClient& client) {
  for (int i = 0; i < 20; ++i) {
    auto r = client.Read();
    if (!r) {
      const std::string& m = r.error().message();
      return m.find("closed") != std::string::npos ||
             m.find("reset") != std::string::npos;
    }
  }
  return false;
}

// The start of an MSET of `pairs` pairs, carrying `sent` of them, each
// value 60,000 bytes: `sent < pairs` leaves it partial.
std::string PartialMset(const std::string& prefix, int pairs, int sent) {
  std::string out = "*" + std::to_string(1 + 2 * pairs) + "\r\n$4\r\nMSET\r\n";
  for (int i = 0; i < sent; ++i) {
    const std::string key = prefix + std::to_string(i);  // s0.., l0..
    out += "$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    out += "$60000\r\n" + std::string(60000, 'v') + "\r\n";
  }
  return out;
}

uint64_t Memory(ServerProcess& server) {
  const std::string v =
      testing::InfoField(server, "clients", "client_memory_bytes");
  return v.empty() ? 0 : std::stoull(v);
}

TEST(ClientMemoryProcessTest, LargestClientIsClosedOthersServed) {
  ServerProcess server(kSmallBudget);
  ASSERT_TRUE(server.running());
  auto small = server.Connect();
  auto large = server.Connect();
  auto bystander = server.Connect();
  ASSERT_EQ(Text(bystander->Call({"PING"})), "PONG");
  // 7 of 7 pairs, all but the final CRLF: 420 KB held.
  std::string small_request = PartialMset("s", 7, 7);
  small_request.resize(small_request.size() - 2);
  ASSERT_TRUE(small->SendRaw(small_request).ok());
  ASSERT_TRUE(WaitFor([&] { return Memory(server) >= 420000; },
                      std::chrono::seconds(5)));
  // 12 of 20 pairs: 720 KB more, past the 1 MiB budget.
  ASSERT_TRUE(large->SendRaw(PartialMset("l", 20, 12)).ok());
  const std::string refused = Text(large->Read());
  EXPECT_EQ(refused.rfind("(error) ERR client memory limit reached "
                          "(max_client_memory_mb 1)",
                          0),
            0u)
      << refused;
  EXPECT_TRUE(ClosedByServer(*large));
  EXPECT_EQ(testing::InfoField(server, "stats", "evicted_clients_memory"), "1");
  // The smaller one finishes its request; the bystander is served.
  ASSERT_TRUE(small->SendRaw("\r\n").ok());
  EXPECT_EQ(Text(small->Read()), "OK");
  EXPECT_EQ(Text(bystander->Call({"EXISTS", "s6", "l0"})), "(integer) 1");
  EXPECT_TRUE(WaitFor([&] { return Memory(server) < 420000; },
                      std::chrono::seconds(5)));
}

TEST(ClientMemoryProcessTest, BulkHeaderOverMaxValueBytesRefusedAtOnce) {
  ServerProcess server(kSmallBudget);
  ASSERT_TRUE(server.running());
  auto c = server.Connect();
  // Within max_request_bytes, over max_value_bytes; no payload follows.
  ASSERT_TRUE(c->SendRaw("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n").ok());
  EXPECT_EQ(Text(c->Read()),
            "(error) ERR argument too large (max 65536 bytes)");
  EXPECT_TRUE(ClosedByServer(*c));
  EXPECT_EQ(Text(server.Connect()->Call({"PING"})), "PONG");
}

}  // namespace
}  // namespace gossipkv
