// The peer handshake check (settings, identity) as a pure function, and
// PeerTransport enforcing it on loopback: an incompatible peer is refused on
// the accepting and on the connecting side, and a message whose `from` is
// not the connection's node id is dropped.
#include "server/peer_handshake.h"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <vector>

#include "server/peer_frame.h"
#include "server/peer_transport.h"

namespace gossipkv {
namespace {

using asio::ip::tcp;
using Kind = HandshakeVerdict::Kind;

pb::PeerMessage Hello(const std::string& id, const Config& config) {
  pb::PeerMessage m;
  m.set_from(id);
  auto* h = m.mutable_handshake();
  h->set_cluster_name(config.cluster_name);
  h->set_protocol_version(kPeerProtocolVersion);
  h->set_node_id(id);
  h->set_peer_address("127.0.0.1:9");
  *h->mutable_settings() = CompatibilityOf(config);
  return m;
}

TEST(PeerHandshakeTest, SameSettingsAccepted) {
  Config config;
  const auto verdict =
      CheckHandshake(Hello("n1", config).handshake(), Hello("n2", config));
  EXPECT_EQ(verdict.kind, Kind::kAccept);
  EXPECT_EQ(verdict.reason, "");
}

TEST(PeerHandshakeTest, EachSettingRefusedNamingBothValues) {
  Config here;
  Config lww = here;
  lww.conflict_mode = ConflictMode::kLastWriteWins;
  Config shape = here;
  shape.merkle.segment_bits = 12;
  Config fanout = here;
  fanout.merkle.fanout_bits = 2;
  fanout.merkle.segment_bits = 16;
  Config no_gc = here;
  no_gc.replication.gc_interval_ms = 0;
  Config two = here;
  two.replication.replication_factor = 2;
  Config bits = here;
  bits.replication.partition_bits = 12;
  const std::vector<std::pair<Config, std::string>> cases = {
      {lww, "conflict_mode siblings here, last-write-wins there"},
      {shape,
       "merkle shape 16 segment bits, fanout 16 here, 12 segment bits, "
       "fanout 16 there"},
      {fanout,
       "merkle shape 16 segment bits, fanout 16 here, 16 segment bits, "
       "fanout 4 there"},
      {no_gc, "tombstone GC on here, off there"},
      {two,
       "ring of 3 replicas over 2^14 partitions here, 2 replicas over 2^14 "
       "there"},
      {bits,
       "ring of 3 replicas over 2^14 partitions here, 3 replicas over 2^12 "
       "there"},
  };
  for (const auto& [there, reason] : cases) {
    const auto verdict =
        CheckHandshake(Hello("n1", here).handshake(), Hello("n3", there));
    EXPECT_EQ(verdict.kind, Kind::kIncompatible) << reason;
    EXPECT_EQ(verdict.reason, reason);
  }
}

TEST(PeerHandshakeTest, OlderPeerWithoutTheRingIsNotChecked) {
  Config here;
  pb::PeerMessage old = Hello("n2", here);
  old.mutable_handshake()->mutable_settings()->clear_replication_factor();
  old.mutable_handshake()->mutable_settings()->clear_partition_bits();
  EXPECT_EQ(CheckHandshake(Hello("n1", here).handshake(), old).kind,
            Kind::kAccept);
}

TEST(PeerHandshakeTest, OlderPeerWithoutSettingsIsNotChecked) {
  Config here;
  pb::PeerMessage old = Hello("n2", here);
  old.mutable_handshake()->clear_settings();
  EXPECT_EQ(CheckHandshake(Hello("n1", here).handshake(), old).kind,
            Kind::kAccept);
}

TEST(PeerHandshakeTest, MalformedHandshakes) {
  Config config;
  const pb::Handshake here = Hello("n1", config).handshake();
  pb::PeerMessage other_cluster = Hello("n2", config);
  other_cluster.mutable_handshake()->set_cluster_name("other");
  pb::PeerMessage no_id = Hello("n2", config);
  no_id.mutable_handshake()->clear_node_id();
  no_id.clear_from();
  pb::PeerMessage two_ids = Hello("n2", config);
  two_ids.set_from("n3");
  pb::PeerMessage not_handshake;
  not_handshake.set_from("n2");
  not_handshake.mutable_gossip_syn();
  for (const auto* m : {&other_cluster, &no_id, &two_ids, &not_handshake}) {
    EXPECT_EQ(CheckHandshake(here, *m).kind, Kind::kMalformed)
        << m->ShortDebugString();
  }
}

// One PeerTransport on loopback, driven by the test's io_context.
class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PeerTransport::Options options;
    options.cluster_name = config_.cluster_name;
    options.node_id = "n1";
    options.settings = CompatibilityOf(config_);
    transport_ = std::make_unique<PeerTransport>(
        io_, options, [this](const std::string&, const pb::PeerMessage& m) {
          received_.push_back(m.from());
        });
    ASSERT_TRUE(transport_->Listen(Endpoint{"127.0.0.1", 0}).ok());
    transport_->set_advertise_address(
        fmt::format("127.0.0.1:{}", transport_->port()));
    transport_->Start();
  }
  void TearDown() override {
    transport_->Stop();
    io_.poll();
  }

  // Runs the io_context until `done` or 5 s of wall time (real sockets).
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  tcp::socket ConnectRaw() {
    tcp::socket s(io_);
    s.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), transport_->port()));
    return s;
  }

  Config config_;
  asio::io_context io_;
  std::unique_ptr<PeerTransport> transport_;
  std::vector<std::string> received_;
};

pb::PeerMessage Syn(const std::string& from) {
  pb::PeerMessage m;
  m.set_from(from);
  m.mutable_gossip_syn();
  return m;
}

TEST_F(TransportTest, MessageFromAnotherNodeThanTheHandshakeIsDropped) {
  tcp::socket s = ConnectRaw();
  const std::string bytes = EncodeFrame(Hello("n2", config_)) +
                            EncodeFrame(Syn("n3")) + EncodeFrame(Syn("n2"));
  asio::write(s, asio::buffer(bytes));
  ASSERT_TRUE(RunUntil([&] { return !received_.empty(); }));
  EXPECT_EQ(received_, std::vector<std::string>{"n2"});
  EXPECT_EQ(transport_->stats().dropped_wrong_from, 1u);
  EXPECT_EQ(transport_->stats().protocol_errors, 0u);
}

TEST_F(TransportTest, IncompatibleInboundPeerIsAnsweredAndClosed) {
  Config lww = config_;
  lww.conflict_mode = ConflictMode::kLastWriteWins;
  tcp::socket s = ConnectRaw();
  const std::string bytes =
      EncodeFrame(Hello("n3", lww)) + EncodeFrame(Syn("n3"));
  asio::write(s, asio::buffer(bytes));
  // Read what the transport answers until it closes the connection.
  std::string answer;
  std::vector<char> buf(4096);
  bool closed = false;
  std::function<void()> read = [&] {
    s.async_read_some(asio::buffer(buf), [&](asio::error_code ec, size_t n) {
      if (ec) {
        closed = true;
        return;
      }
      answer.append(buf.data(), n);
      read();
    });
  };
  read();
  ASSERT_TRUE(RunUntil([&] { return closed; }));
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(transport_->stats().refused_incompatible, 1u);
  EXPECT_EQ(transport_->stats().last_refusal,
            "n3 at 127.0.0.1:9: conflict_mode siblings here, last-write-wins "
            "there");
  FrameReader reader(1 << 20);
  reader.Feed(answer);
  pb::PeerMessage m;
  std::string error;
  ASSERT_EQ(reader.Next(m, error), FrameReader::Outcome::kMessage);
  EXPECT_EQ(m.handshake().node_id(), "n1");
  EXPECT_EQ(m.handshake().settings().conflict_mode(), "siblings");
}

TEST_F(TransportTest, OutboundRefusesAnIncompatibleAnswer) {
  Config lww = config_;
  lww.conflict_mode = ConflictMode::kLastWriteWins;
  // A peer that answers every connection with an incompatible handshake.
  tcp::acceptor acceptor(io_,
                         tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string address =
      fmt::format("127.0.0.1:{}", acceptor.local_endpoint().port());
  tcp::socket accepted(io_);
  const std::string answer = EncodeFrame(Hello("n3", lww));
  acceptor.async_accept(accepted, [&](asio::error_code ec) {
    if (!ec)
      asio::async_write(accepted, asio::buffer(answer),
                        [](asio::error_code, size_t) {});
  });
  transport_->Send(address, Syn("n1"));
  ASSERT_TRUE(
      RunUntil([&] { return transport_->stats().refused_incompatible > 0; }));
  EXPECT_EQ(transport_->stats().last_refusal,
            fmt::format("n3 at {}: conflict_mode siblings here, "
                        "last-write-wins there",
                        address));
  // Held off: a message sent now is dropped, not a new connection.
  const uint64_t connects = transport_->stats().connects;
  transport_->Send(address, Syn("n1"));
  io_.poll();
  EXPECT_EQ(transport_->stats().connects, connects);
}

}  // namespace
}  // namespace gossipkv
