// PeerTransport on loopback sockets, driven by a real io_context for a
// bounded time: the reconnect backoff holds however often messages are
// sent; an inbound connection that sends no handshake is closed at its
// deadline; inbound connections beyond max_connections are closed at once;
// a peer that stops reading times the write out; membership gossip and
// repair travel on separate connections.
#include "server/peer_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "server/peer_frame.h"

namespace gossipkv {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;

PeerTransport::Options TestOptions(const std::string& id) {
  PeerTransport::Options o;
  o.cluster_name = "test";
  o.node_id = id;
  o.local_host = "127.0.0.1";
  return o;
}

// A port nothing listens on (bound, read, closed).
uint16_t ClosedPort(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string Address(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

pb::PeerMessage Syn(const std::string& from) {
  pb::PeerMessage m;
  m.set_from(from);
  m.mutable_gossip_syn();
  return m;
}

pb::PeerMessage Rumor(const std::string& from, size_t value_bytes) {
  pb::PeerMessage m;
  m.set_from(from);
  auto* e = m.mutable_rumor()->add_entries();
  e->set_key("k");
  e->set_entry(std::string(value_bytes, 'v'));
  return m;
}

// Runs `io` until `done` or `limit` passes; true if done.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.run_for(milliseconds(10));
    if (io.stopped()) io.restart();
  }
  return done();
}

TEST(PeerTransportTest, SendsDoNotCutTheReconnectBackoffShort) {
  asio::io_context io;
  PeerTransport t(io, TestOptions("a"), [](auto&, auto&) {});
  const std::string dead = Address(ClosedPort(io));
  // A message every 10 ms for 1.6 s. Attempts at 0, 0.1, 0.3, 0.7 and
  // 1.5 s: five; one attempt per message would be about 160.
  asio::steady_timer ticker(io);
  std::function<void()> tick = [&] {
    t.Send(dead, Rumor("a", 10));
    ticker.expires_after(milliseconds(10));
    ticker.async_wait([&](const asio::error_code& ec) {
      if (!ec) tick();
    });
  };
  tick();
  RunUntil(
      io, [] { return false; }, milliseconds(1600));
  const uint64_t attempts = t.stats().connect_failures + t.stats().connects;
  EXPECT_GE(attempts, 3u);
  EXPECT_LE(attempts, 7u);
  EXPECT_EQ(t.stats().connects, 0u);
  EXPECT_GT(t.stats().dropped_unreachable, 100u);
  t.Stop();
}

TEST(PeerTransportTest, AnInboundConnectionWithoutHandshakeIsClosed) {
  asio::io_context io;
  auto options = TestOptions("a");
  options.handshake_timeout_ms = 200;
  PeerTransport t(io, options, [](auto&, auto&) {});
  ASSERT_TRUE(t.Listen(Endpoint{"127.0.0.1", 0}).ok());
  t.Start();
  tcp::socket silent(io);
  silent.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), t.port()));
  bool closed = false;
  char byte;
  silent.async_read_some(
      asio::buffer(&byte, 1), [&](const asio::error_code& ec, size_t) {
        closed = ec == asio::error::eof || ec == asio::error::connection_reset;
      });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(RunUntil(
      io, [&] { return closed; }, milliseconds(3000)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(150));
  EXPECT_EQ(t.stats().handshake_timeouts, 1u);
  t.Stop();
}

TEST(PeerTransportTest, InboundConnectionsBeyondTheLimitAreClosed) {
  asio::io_context io;
  auto options = TestOptions("a");
  options.max_connections = 2;
  PeerTransport t(io, options, [](auto&, auto&) {});
  ASSERT_TRUE(t.Listen(Endpoint{"127.0.0.1", 0}).ok());
  t.Start();
  const tcp::endpoint target(asio::ip::make_address("127.0.0.1"), t.port());
  std::vector<std::unique_ptr<tcp::socket>> sockets;
  for (int i = 0; i < 3; ++i) {
    sockets.push_back(std::make_unique<tcp::socket>(io));
    sockets.back()->connect(target);
    RunUntil(
        io,
        [&] {
          return t.stats().connections_accepted +
                     t.stats().connections_refused ==
                 static_cast<uint64_t>(i + 1);
        },
        milliseconds(2000));
  }
  EXPECT_EQ(t.stats().connections_accepted, 2u);
  EXPECT_EQ(t.stats().connections_refused, 1u);
  EXPECT_EQ(t.inbound_connections(), 2u);
  bool third_closed = false;
  char byte;
  sockets[2]->async_read_some(asio::buffer(&byte, 1),
                              [&](const asio::error_code& ec, size_t) {
                                third_closed = static_cast<bool>(ec);
                              });
  EXPECT_TRUE(RunUntil(
      io, [&] { return third_closed; }, milliseconds(2000)));
  t.Stop();
}

TEST(PeerTransportTest, AWriteToAPeerThatStopsReadingTimesOut) {
  asio::io_context io;
  auto options = TestOptions("a");
  options.write_timeout_ms = 300;
  options.handshake_timeout_ms = 60'000;
  PeerTransport t(io, options, [](auto&, auto&) {});
  // Accepts, never reads: the kernel's buffers fill, then the write stalls.
  tcp::acceptor deaf(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket accepted(io);
  deaf.async_accept(accepted, [](const asio::error_code&) {});
  const std::string address = Address(deaf.local_endpoint().port());
  for (int i = 0; i < 16; ++i) t.Send(address, Rumor("a", 1 << 20));
  EXPECT_TRUE(RunUntil(
      io, [&] { return t.stats().write_timeouts > 0; }, milliseconds(5000)));
  t.Stop();
}

// A peer address that nothing is sent to for idle_close_ms loses its
// record (a departed peer, or one restarted on another port), so records
// do not pile up; sending again makes a new one.
TEST(PeerTransportTest, AnIdleOutboundRecordIsDropped) {
  asio::io_context io;
  auto options = TestOptions("a");
  options.idle_close_ms = 200;
  PeerTransport t(io, options, [](auto&, auto&) {});
  const std::string gone = Address(ClosedPort(io));
  t.Send(gone, Syn("a"));
  t.Send(gone, Rumor("a", 10));
  EXPECT_EQ(t.outbound_records(), 2u);
  EXPECT_TRUE(RunUntil(
      io, [&] { return t.outbound_records() == 0; }, milliseconds(5000)));
  EXPECT_EQ(t.stats().outbound_idle_closed, 2u);
  t.Send(gone, Syn("a"));
  EXPECT_EQ(t.outbound_records(), 1u);
  t.Stop();
}

TEST(PeerTransportTest, GossipAndRepairTravelOnSeparateConnections) {
  asio::io_context io;
  std::vector<pb::PeerMessage::BodyCase> received;
  PeerTransport b(io, TestOptions("b"),
                  [&](const std::string&, const pb::PeerMessage& m) {
                    received.push_back(m.body_case());
                  });
  ASSERT_TRUE(b.Listen(Endpoint{"127.0.0.1", 0}).ok());
  b.set_advertise_address(Address(b.port()));
  b.Start();
  auto a_options = TestOptions("a");
  a_options.advertise_address = "127.0.0.1:1";
  PeerTransport a(io, a_options, [](auto&, auto&) {});
  EXPECT_EQ(PeerTransport::LaneOf(Syn("a")), PeerTransport::Lane::kControl);
  EXPECT_EQ(PeerTransport::LaneOf(Rumor("a", 1)), PeerTransport::Lane::kBulk);
  a.Send(Address(b.port()), Rumor("a", 100));
  a.Send(Address(b.port()), Syn("a"));
  EXPECT_TRUE(RunUntil(
      io, [&] { return received.size() == 2; }, milliseconds(3000)));
  EXPECT_EQ(a.stats().connects, 2u);
  EXPECT_EQ(b.stats().connections_accepted, 2u);
  EXPECT_EQ(b.inbound_connections(), 2u);
  a.Stop();
  b.Stop();
}

}  // namespace
}  // namespace gossipkv
