// Real gossipkv-server processes on loopback: three nodes find each other
// through a seed, a kill -9 is detected and a restart welcomed back; hostile
// bytes on the peer port close only that connection; a node with another
// conflict mode is refused while the others keep replicating.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "server/peer_frame.h"
#include "tests/server_process.h"

namespace gossipkv {
namespace {

using testing::ServerProcess;
using testing::WaitFor;

// Fast gossip so a test takes seconds: phi crosses 8 after ~1.8 s of
// silence, then a second as suspect.
constexpr const char* kFastGossip = R"(
[gossip]
interval_ms = 100
dead_after_ms = 1000
[storage]
durability = "buffered"
)";

std::unique_ptr<ServerProcess> StartNode(const std::string& id,
                                         const std::string& seed) {
  return testing::StartClusterNode(kFastGossip, id, seed);
}

// node id -> status ("self", "alive", ...) as `node` sees the cluster.
std::map<std::string, std::string> Statuses(ServerProcess& node) {
  std::map<std::string, std::string> out;
  auto client = node.Connect();
  if (!client) return out;
  auto reply = client->Call({"MEMBERS"});
  if (!reply) return out;
  for (const auto& row : reply->elements) {
    if (row.elements.size() == 6)
      out[row.elements[0].text] = row.elements[3].text;
  }
  return out;
}

bool Sees(ServerProcess& node, const std::string& id,
          const std::string& status) {
  auto s = Statuses(node);
  auto it = s.find(id);
  return it != s.end() && it->second == status;
}

TEST(ClusterProcessTest,
     ThreeNodesFindEachOtherDetectKill9AndWelcomeTheRestart) {
  auto n1 = StartNode("n1", "");
  ASSERT_TRUE(n1->running());
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  ASSERT_TRUE(n2->running() && n3->running());
  std::vector<ServerProcess*> nodes = {n1.get(), n2.get(), n3.get()};
  const std::vector<std::string> ids = {"n1", "n2", "n3"};
  auto all_alive = [&] {
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (size_t j = 0; j < ids.size(); ++j) {
        if (!Sees(*nodes[i], ids[j], i == j ? "self" : "alive")) return false;
      }
    }
    return true;
  };
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(all_alive, std::chrono::seconds(10)));
  std::printf("3 nodes all alive everywhere after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count()));

  n3->Kill();
  started = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] { return Sees(*n1, "n3", "dead") && Sees(*n2, "n3", "dead"); },
      std::chrono::seconds(15)));
  std::printf("kill -9 of n3 seen as dead by n1 and n2 after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count()));

  n3->Restart();
  ASSERT_TRUE(n3->running());
  ASSERT_TRUE(WaitFor(all_alive, std::chrono::seconds(10)))
      << "restart is welcomed back";
}

// SIGTERM is a restart: peers see the node go quiet, never "left", and
// welcome it back. CLUSTER LEAVE is for good: the node says so, exits, and
// every peer marks it left.
TEST(ClusterProcessTest, AStopIsARestartAndClusterLeaveIsForGood) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running() && n3->running());
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sees(*n1, "n2", "alive") && Sees(*n1, "n3", "alive") &&
               Sees(*n2, "n3", "alive") && Sees(*n3, "n2", "alive");
      },
      std::chrono::seconds(10)));

  EXPECT_EQ(n2->Stop(), 0);
  ASSERT_TRUE(WaitFor(
      [&] { return Sees(*n1, "n2", "suspect") || Sees(*n1, "n2", "dead"); },
      std::chrono::seconds(10)))
      << "n1 never noticed n2 stop";
  EXPECT_FALSE(Sees(*n3, "n2", "left")) << "a stop was taken for a leave";
  n2->Restart();
  ASSERT_TRUE(n2->running());
  ASSERT_TRUE(WaitFor([&] { return Sees(*n1, "n2", "alive"); },
                      std::chrono::seconds(10)));

  auto client = n3->Connect();
  ASSERT_TRUE(client);
  auto reply = client->Call({"CLUSTER", "LEAVE"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->text, "OK");
  EXPECT_EQ(n3->WaitExit(std::chrono::seconds(5)), 0)
      << "n3 did not exit after leaving";
  EXPECT_TRUE(WaitFor(
      [&] { return Sees(*n1, "n3", "left") && Sees(*n2, "n3", "left"); },
      std::chrono::seconds(10)));
}

TEST(ClusterProcessTest, FaultBlockPartitionsAndUnblockHeals) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  auto n3 = StartNode("n3", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running() && n3->running());
  ASSERT_TRUE(WaitFor(
      [&] { return Sees(*n1, "n3", "alive") && Sees(*n3, "n2", "alive"); },
      std::chrono::seconds(10)));
  auto fault = [](ServerProcess& node, std::vector<std::string> args) {
    args.insert(args.begin(), "FAULT");
    return node.Connect()->Call(args)->ToString();
  };
  // "n1,n2 | n3": each side blocks the other.
  EXPECT_EQ(fault(*n1, {"BLOCK", "n3"}), "OK");
  EXPECT_EQ(fault(*n2, {"BLOCK", "n3"}), "OK");
  EXPECT_EQ(fault(*n3, {"BLOCK", "n1", "n2"}), "OK");
  EXPECT_NE(fault(*n3, {"STATUS"}).find("blocked:n1,n2"), std::string::npos);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sees(*n1, "n3", "dead") && Sees(*n2, "n3", "dead") &&
               Sees(*n3, "n1", "dead") && Sees(*n3, "n2", "dead") &&
               Sees(*n1, "n2", "alive");
      },
      std::chrono::seconds(15)));
  for (auto* node : {n1.get(), n2.get(), n3.get()})
    EXPECT_EQ(fault(*node, {"UNBLOCK"}), "OK");
  // Nobody is told to rejoin: dead members are still probed now and then.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sees(*n1, "n3", "alive") && Sees(*n2, "n3", "alive") &&
               Sees(*n3, "n1", "alive") && Sees(*n3, "n2", "alive");
      },
      std::chrono::seconds(15)));
  EXPECT_NE(fault(*n1, {"DROP", "2"}).find("probability between 0 and 1"),
            std::string::npos);
}

// A raw TCP connection to a peer port, for sending hostile bytes.
class RawPeerConnection {
 public:
  explicit RawPeerConnection(const std::string& address) {
    const auto colon = address.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port =
        htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawPeerConnection() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    (void)send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // True once the server closes the connection (within 5 s).
  bool ClosedByServer() {
    pollfd p{fd_, POLLIN, 0};
    for (int i = 0; i < 50; ++i) {
      if (poll(&p, 1, 100) > 0) {
        char buf[256];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return true;
      }
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Handshake(const std::string& cluster) {
  pb::PeerMessage m;
  m.set_from("intruder");
  m.mutable_handshake()->set_cluster_name(cluster);
  m.mutable_handshake()->set_protocol_version(kPeerProtocolVersion);
  m.mutable_handshake()->set_node_id("intruder");
  m.mutable_handshake()->set_peer_address("127.0.0.1:9");
  return EncodeFrame(m);
}

// A numeric INFO field, or ~0 when absent.
uint64_t InfoNumber(ServerProcess& node, const std::string& section,
                    const std::string& field) {
  const std::string value = testing::InfoField(node, section, field);
  return value.empty() ? ~0ull : std::stoull(value);
}

TEST(ClusterProcessTest, BadPeerInputClosesOnlyThatConnection) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running());
  ASSERT_TRUE(WaitFor([&] { return Sees(*n1, "n2", "alive"); },
                      std::chrono::seconds(10)));
  {
    auto c = n1->Connect();
    ASSERT_EQ(c->Call({"SET", "before", "v"})->ToString(), "OK");
  }
  pb::PeerMessage no_body;
  no_body.set_from("intruder");
  const std::string unknown_field("\xf8\x06\x01", 3);  // field 111, varint 1
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage bytes", "hello, I am not a peer\r\n"},
      {"4 GiB length prefix", std::string("\xff\xff\xff\xff", 4) + "xxxx"},
      {"wrong cluster name", Handshake("someone-else")},
      {"no message type", Handshake("gossipkv") + EncodeFrame(no_body)},
      {"unknown message type",
       Handshake("gossipkv") + std::string("\0\0\0\3", 4) + unknown_field},
      {"truncated protobuf", Handshake("gossipkv") +
                                 std::string("\0\0\0\x0a", 4) +
                                 std::string(10, '\xff')},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    const uint64_t errors_before =
        InfoNumber(*n1, "peers", "peer_protocol_errors");
    RawPeerConnection raw(n1->peer_address());
    ASSERT_TRUE(raw.connected());
    raw.Send(bytes);
    EXPECT_TRUE(raw.ClosedByServer());
    EXPECT_TRUE(WaitFor(
        [&] {
          return InfoNumber(*n1, "peers", "peer_protocol_errors") ==
                 errors_before + 1;
        },
        std::chrono::seconds(2)));
    auto c = n1->Connect();
    EXPECT_EQ(c->Call({"GET", "before"})->ToString(), "v")
        << "clients still served";
    EXPECT_EQ(c->Call({"SET", name, "ok"})->ToString(), "OK");
    EXPECT_TRUE(Sees(*n1, "n2", "alive")) << "other peers unaffected";
  }
  // After all of it, n2 still hears n1's heartbeats.
  EXPECT_TRUE(WaitFor([&] { return Sees(*n2, "n1", "alive"); },
                      std::chrono::seconds(2)));
}

TEST(ClusterProcessTest, NodeWithAnotherConflictModeIsRefused) {
  auto n1 = StartNode("n1", "");
  auto n2 = StartNode("n2", n1->peer_address());
  ASSERT_TRUE(n1->running() && n2->running());
  ASSERT_TRUE(WaitFor([&] { return Sees(*n1, "n2", "alive"); },
                      std::chrono::seconds(10)));
  auto n3 = testing::StartClusterNode(
      std::string(kFastGossip) + "conflict = \"lww\"\n", "n3",
      n1->peer_address());
  ASSERT_TRUE(n3->running());
  ASSERT_TRUE(WaitFor(
      [&] {
        const uint64_t refused =
            InfoNumber(*n1, "peers", "peers_refused_incompatible");
        return refused != ~0ull && refused >= 1;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(testing::InfoField(*n1, "peers", "peer_last_refusal"),
            "n3 at " + n3->peer_address() +
                ": conflict_mode siblings here, last-write-wins there");
  // n3 checks n1's answer too.
  EXPECT_TRUE(WaitFor(
      [&] {
        const uint64_t refused =
            InfoNumber(*n3, "peers", "peers_refused_incompatible");
        return refused != ~0ull && refused >= 1;
      },
      std::chrono::seconds(10)));
  // The cluster keeps working without it, and never lets it in.
  ASSERT_EQ(n1->Connect()->Call({"SET", "after", "v"})->ToString(), "OK");
  EXPECT_TRUE(WaitFor(
      [&] {
        return n2->Connect()->Call({"GET", "after"})->ToString() == "v";
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Statuses(*n1).count("n3"), 0u);
  EXPECT_EQ(Statuses(*n2).count("n3"), 0u);
  EXPECT_EQ(Statuses(*n3).count("n1"), 0u);
}

}  // namespace
}  // namespace gossipkv
