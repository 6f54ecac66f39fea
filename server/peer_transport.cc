// PeerTransport: an accept loop, one coroutine per inbound connection, one
// per outbound peer (connect, handshake, drain the queue, back off).
#include "server/peer_transport.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "server/listen.h"
#include "server/peer_frame.h"
#include "server/peer_handshake.h"

namespace gossipkv {

using asio::ip::tcp;

struct PeerTransport::Outbound {
  explicit Outbound(asio::io_context& io, std::string addr)
      : address(std::move(addr)), socket(io), wake(io) {}
  std::string address;
  tcp::socket socket;
  asio::steady_timer wake;  // cancelled when a message is queued
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool connected = false;
  uint64_t generation = 0;  // bumped at every connect
  // Refused for its settings: not retried before this.
  std::chrono::steady_clock::time_point hold_until;
};

struct PeerTransport::Inbound {
  explicit Inbound(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
};

PeerTransport::PeerTransport(asio::io_context& io, Options options,
                             Handler handler)
    : io_(io),
      options_(std::move(options)),
      handler_(std::move(handler)),
      acceptor_(io) {}

PeerTransport::~PeerTransport() { Stop(); }

Status PeerTransport::Listen(const Endpoint& bind) {
  return gossipkv::Listen(acceptor_, bind, "peers", port_);
}

void PeerTransport::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
}

void PeerTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [address, peer] : outbound_) {
    peer->socket.close(ignored);
    peer->wake.cancel();
  }
  for (auto& weak : inbound_) {
    if (auto in = weak.lock()) in->socket.close(ignored);
  }
}

pb::PeerMessage PeerTransport::Hello() const {
  pb::PeerMessage hello;
  hello.set_from(options_.node_id);
  auto* h = hello.mutable_handshake();
  h->set_cluster_name(options_.cluster_name);
  h->set_protocol_version(kPeerProtocolVersion);
  h->set_node_id(options_.node_id);
  h->set_peer_address(options_.advertise_address);
  *h->mutable_settings() = options_.settings;
  return hello;
}

void PeerTransport::CountRefusal(const std::string& node_id,
                                 const std::string& address,
                                 const std::string& reason) {
  ++stats_.refused_incompatible;
  stats_.last_refusal = fmt::format("{} at {}: {}", node_id, address, reason);
  spdlog::warn("refusing peer {}", stats_.last_refusal);
}

asio::awaitable<void> PeerTransport::ReadAnswer(std::shared_ptr<Outbound> peer,
                                                uint64_t generation) {
  FrameReader reader(options_.max_frame_bytes);
  std::vector<char> buffer(4096);
  pb::PeerMessage message;
  std::string error;
  while (!stopped_) {
    asio::error_code ec;
    size_t n = co_await peer->socket.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_ || peer->generation != generation) co_return;
    reader.Feed(std::string_view(buffer.data(), n));
    const auto outcome = reader.Next(message, error);
    if (outcome == FrameReader::Outcome::kNeedMore) continue;
    // Nothing but the answer is expected on an outbound connection; a
    // malformed one is the inbound side's to report.
    if (outcome != FrameReader::Outcome::kMessage) co_return;
    const HandshakeVerdict verdict =
        CheckHandshake(Hello().handshake(), message);
    if (verdict.kind != HandshakeVerdict::Kind::kIncompatible) co_return;
    CountRefusal(message.handshake().node_id(), peer->address, verdict.reason);
    ++peer->generation;
    asio::error_code ignored;
    peer->socket.close(ignored);
    peer->connected = false;
    stats_.dropped_unreachable += peer->queue.size();
    peer->queue.clear();
    peer->queued_bytes = 0;
    peer->hold_until =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    peer->wake.cancel();
    co_return;
  }
}

uint64_t PeerTransport::FreeBytes(const std::string& address) const {
  auto it = outbound_.find(address);
  const size_t queued = it == outbound_.end() ? 0 : it->second->queued_bytes;
  return queued >= options_.max_queue_bytes ? 0
                                            : options_.max_queue_bytes - queued;
}

void PeerTransport::Send(const std::string& address,
                         const pb::PeerMessage& message) {
  if (stopped_) return;
  auto& peer = outbound_[address];
  if (!peer) {
    peer = std::make_shared<Outbound>(io_, address);
    asio::co_spawn(io_, RunOutbound(peer), asio::detached);
  }
  std::string frame = EncodeFrame(message);
  if (frame.size() > options_.max_frame_bytes) {
    // The peer would close the connection on it: a bug or a merged entry
    // whose siblings together outgrew the frame (config/config.h).
    if (stats_.dropped_oversized++ == 0)
      spdlog::warn(
          "peer {}: dropped a message of {} bytes, over "
          "max_frame_bytes ({}); counted in INFO peers",
          address, frame.size(), options_.max_frame_bytes);
    return;
  }
  if (peer->queued_bytes + frame.size() > options_.max_queue_bytes) {
    ++stats_.dropped_queue_full;
    return;
  }
  peer->queued_bytes += frame.size();
  peer->queue.push_back(std::move(frame));
  peer->wake.cancel();
}

asio::awaitable<void> PeerTransport::RunOutbound(
    std::shared_ptr<Outbound> peer) {
  int64_t backoff_ms = 100;
  while (!stopped_) {
    asio::error_code ec;
    if (peer->queue.empty()) {
      peer->wake.expires_at(asio::steady_timer::time_point::max());
      co_await peer->wake.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (!peer->connected &&
        std::chrono::steady_clock::now() < peer->hold_until) {
      stats_.dropped_unreachable += peer->queue.size();
      peer->queue.clear();
      peer->queued_bytes = 0;
      peer->wake.expires_at(peer->hold_until);
      co_await peer->wake.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (!peer->connected) {
      auto endpoint = ParseEndpoint(peer->address);
      tcp::resolver resolver(io_);
      tcp::resolver::results_type results;
      if (endpoint) {
        results = co_await resolver.async_resolve(
            endpoint->host, std::to_string(endpoint->port),
            asio::redirect_error(asio::use_awaitable, ec));
      }
      if (endpoint && !ec) {
        const tcp::endpoint target = *results.begin();
        peer->socket.open(target.protocol(), ec);
        if (!ec && !options_.local_host.empty() &&
            options_.local_host != "0.0.0.0" && options_.local_host != "::") {
          auto local = asio::ip::make_address(options_.local_host, ec);
          if (!ec) peer->socket.bind(tcp::endpoint(local, 0), ec);
        }
        if (!ec) {
          co_await peer->socket.async_connect(
              target, asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      if (!endpoint || ec) {
        ++stats_.connect_failures;
        // Messages for an unreachable peer would be stale by the time it is
        // back: gossip and repair regenerate what matters.
        stats_.dropped_unreachable += peer->queue.size();
        peer->queue.clear();
        peer->queued_bytes = 0;
        asio::error_code ignored;
        peer->socket.close(ignored);
        peer->wake.expires_after(std::chrono::milliseconds(backoff_ms));
        co_await peer->wake.async_wait(
            asio::redirect_error(asio::use_awaitable, ec));
        backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
        continue;
      }
      peer->socket.set_option(tcp::no_delay(true), ec);
      peer->queue.push_front(HandshakeFrame());
      peer->queued_bytes += peer->queue.front().size();
      peer->connected = true;
      ++stats_.connects;
      backoff_ms = 100;
      asio::co_spawn(io_, ReadAnswer(peer, ++peer->generation), asio::detached);
    }
    // Everything queued goes out in one write.
    std::string batch;
    size_t frames = peer->queue.size();
    batch.reserve(peer->queued_bytes);
    for (auto& f : peer->queue) batch += f;
    peer->queue.clear();
    peer->queued_bytes = 0;
    co_await asio::async_write(peer->socket, asio::buffer(batch),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      spdlog::debug("peer {}: write failed: {}", peer->address, ec.message());
      if (peer->connected) {
        asio::error_code ignored;
        peer->socket.close(ignored);
        peer->connected = false;
        ++peer->generation;
      }
      continue;
    }
    stats_.frames_sent += frames;
    stats_.bytes_sent += batch.size();
  }
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
    ++stats_.connections_accepted;
    auto inbound = std::make_shared<Inbound>(std::move(socket));
    std::erase_if(inbound_, [](const auto& w) { return w.expired(); });
    inbound_.push_back(inbound);
    asio::co_spawn(io_, ServeInbound(inbound), asio::detached);
  }
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
  while (!stopped_) {
    size_t n = co_await inbound->socket.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
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
        // Answered with this node's own, so the connecting side can check
        // the settings (and log why) too.
        const std::string answer = EncodeFrame(hello);
        co_await asio::async_write(
            inbound->socket, asio::buffer(answer),
            asio::redirect_error(asio::use_awaitable, ec));
        if (verdict.kind == HandshakeVerdict::Kind::kIncompatible) {
          CountRefusal(message.handshake().node_id(),
                       message.handshake().peer_address(), verdict.reason);
          refused = true;
          break;
        }
        if (ec) break;
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
  asio::error_code ignored;
  inbound->socket.close(ignored);
}

}  // namespace gossipkv
