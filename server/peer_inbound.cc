// PeerTransport, the receiving side: accepting peer connections (at most
// max_connections), checking each one's handshake within its deadline, and
// handing the messages of those that pass to the node.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/peer_connections.h"
#include "server/peer_frame.h"
#include "server/peer_handshake.h"
#include "server/peer_transport.h"

namespace gossipkv {

using asio::ip::tcp;

size_t PeerTransport::inbound_connections() const {
  return static_cast<size_t>(
      std::count_if(inbound_.begin(), inbound_.end(),
                    [](const auto& w) { return !w.expired(); }));
}

asio::awaitable<void> PeerTransport::AcceptLoop() {
  while (!stopped_) {
    asio::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    std::erase_if(inbound_, [](const auto& w) { return w.expired(); });
    if (inbound_.size() >= options_.max_connections) {
      // Every peer opens two; more means a misconfigured or hostile client.
      if (stats_.connections_refused++ % 1000 == 0)
        spdlog::warn(
            "refusing a peer connection: {} are open "
            "(peer.max_connections); {} refused so far",
            inbound_.size(), stats_.connections_refused);
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++stats_.connections_accepted;
    auto inbound = std::make_shared<Inbound>(io_, std::move(socket));
    inbound_.push_back(inbound);
    asio::co_spawn(io_, ServeInbound(inbound), asio::detached);
  }
}

asio::awaitable<bool> PeerTransport::AcceptTls(Inbound& inbound) {
  if (!tls_) co_return true;
  asio::error_code ec;
  if (options_.tls.mode == PeerTlsMode::kPermissive) {
    // A TLS connection opens with a handshake record (0x16); a plaintext
    // one with a frame length, whose first byte no frame size reaches.
    unsigned char first = 0;
    co_await inbound.socket.async_receive(
        asio::buffer(&first, 1), tcp::socket::message_peek,
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    if (first != 0x16) {
      ++stats_.plaintext_accepted;
      co_return true;
    }
  }
  inbound.stream.StartTls(*tls_);
  co_await inbound.stream.Handshake(asio::ssl::stream_base::server, ec);
  if (!ec) co_return true;
  if (stats_.tls_handshake_failures++ % 100 == 0) {
    const std::string why = ec.message();
    const auto remote = inbound.socket.remote_endpoint(ec);
    spdlog::warn(
        "refusing a peer connection from {}: TLS handshake failed: {} ({} so "
        "far)",
        fmt::format("{}:{}", remote.address().to_string(), remote.port()), why,
        stats_.tls_handshake_failures);
  }
  co_return false;
}

asio::awaitable<void> PeerTransport::ServeInbound(
    std::shared_ptr<Inbound> inbound) {
  FrameReader reader(options_.max_frame_bytes);
  std::vector<char> buffer(64 * 1024);
  std::string from_address;  // set by the handshake
  std::string node_id;       // likewise: the only `from` accepted after it
  bool warned_wrong_from = false;
  pb::PeerMessage message;
  std::string error;
  asio::error_code ec;
  const auto remote = inbound->socket.remote_endpoint(ec);
  const pb::PeerMessage hello = Hello();
  inbound->deadline.Arm(
      inbound, inbound->socket,
      std::chrono::milliseconds(options_.handshake_timeout_ms));
  bool open = co_await AcceptTls(*inbound);
  while (open && !stopped_) {
    size_t n = co_await inbound->stream.ReadSome(asio::buffer(buffer), ec);
    if (ec) break;
    stats_.bytes_received += n;
    reader.Feed(std::string_view(buffer.data(), n));
    FrameReader::Outcome outcome;
    bool refused = false;
    while ((outcome = reader.Next(message, error)) ==
           FrameReader::Outcome::kMessage) {
      ++stats_.frames_received;
      if (from_address.empty()) {
        const HandshakeVerdict verdict =
            CheckHandshake(hello.handshake(), message);
        if (verdict.kind == HandshakeVerdict::Kind::kMalformed) {
          error = verdict.reason;
          outcome = FrameReader::Outcome::kError;
          break;
        }
        if (!CertificateMatches(inbound->stream, message.handshake().node_id(),
                                message.handshake().peer_address())) {
          refused = true;
          break;
        }
        // Answered with this node's own, so the connecting side can check
        // the settings (and log why) too.
        const std::string answer = EncodeFrame(hello);
        co_await inbound->stream.Write(asio::buffer(answer), ec);
        if (verdict.kind == HandshakeVerdict::Kind::kIncompatible) {
          CountRefusal(message.handshake().node_id(),
                       message.handshake().peer_address(), verdict.reason);
          refused = true;
          break;
        }
        if (ec) break;
        inbound->deadline.Disarm();
        from_address = message.handshake().peer_address();
        node_id = message.handshake().node_id();
        continue;
      }
      if (message.from() != node_id) {
        ++stats_.dropped_wrong_from;
        if (!warned_wrong_from) {
          warned_wrong_from = true;
          spdlog::warn(
              "peer {} at {} sent a message from '{}': dropped (and any "
              "more)",
              node_id, from_address, message.from());
        }
        continue;
      }
      handler_(from_address, message);
      if (stopped_) co_return;
    }
    if (refused || ec) break;
    if (outcome == FrameReader::Outcome::kError) {
      ++stats_.protocol_errors;
      spdlog::warn(
          "closing peer connection from {}: {}",
          fmt::format("{}:{}", remote.address().to_string(), remote.port()),
          error);
      break;
    }
  }
  if (inbound->deadline.expired()) {
    ++stats_.handshake_timeouts;
    spdlog::debug("closed a peer connection that sent no handshake in {} ms",
                  options_.handshake_timeout_ms);
  }
  asio::error_code ignored;
  inbound->socket.close(ignored);
}

}  // namespace gossipkv
