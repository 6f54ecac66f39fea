// PeerTransport, the sending side: one coroutine per (peer, lane) connects,
// handshakes, drains the queue and backs off.
#include "server/peer_transport.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/listen.h"
#include "server/peer_connections.h"
#include "server/peer_frame.h"
#include "server/peer_handshake.h"
#include "util/bytes.h"

namespace gossipkv {

using asio::ip::tcp;
using std::chrono::milliseconds;

namespace {
constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 5000;
constexpr size_t kWriteSliceBytes = 256 << 10;
}  // namespace

PeerTransport::PeerTransport(asio::io_context& io, Options options,
                             Handler handler)
    : io_(io),
      options_(std::move(options)),
      handler_(std::move(handler)),
      acceptor_(io) {}

PeerTransport::~PeerTransport() { Stop(); }

PeerTransport::Lane PeerTransport::LaneOf(const pb::PeerMessage& message) {
  switch (message.body_case()) {
    case pb::PeerMessage::kGossipSyn:
    case pb::PeerMessage::kGossipAck:
    case pb::PeerMessage::kGossipAck2:
      return Lane::kControl;
    default:
      return Lane::kBulk;
  }
}

Status PeerTransport::Listen(const Endpoint& bind) {
  if (options_.tls.enabled()) {
    const PeerTlsSettings& t = options_.tls;
    asio::error_code ec;
    tls_.emplace(asio::ssl::context::tls);
    tls_->set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
            asio::ssl::context::no_tlsv1_1,
        ec);
    const char* step = "set TLS options";
    if (!ec) step = "load peer.tls_cert_file";
    if (!ec) tls_->use_certificate_chain_file(t.cert_file, ec);
    if (!ec) step = "load peer.tls_key_file";
    if (!ec)
      tls_->use_private_key_file(t.key_file, asio::ssl::context::pem, ec);
    if (!ec) step = "load peer.tls_ca_cert_file";
    if (!ec) tls_->load_verify_file(t.ca_cert_file, ec);
    // Both sides present a certificate of the cluster CA.
    if (!ec)
      tls_->set_verify_mode(
          asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) {
      tls_.reset();
      return Status::InvalidArgument(
          fmt::format("cannot {}: {}", step, ec.message()));
    }
  }
  return gossipkv::Listen(acceptor_, bind, "peers", port_);
}

bool PeerTransport::CertificateMatches(PeerStream& stream,
                                       const std::string& node_id,
                                       const std::string& address) {
  if (!stream.tls() || stream.CertificateNames(node_id)) return true;
  if (stats_.tls_name_mismatches++ % 100 == 0)
    spdlog::warn(
        "refusing peer at {}: its certificate does not name node id '{}', "
        "which its handshake claims ({} such refusals)",
        EscapeForDisplay(address, 64), EscapeForDisplay(node_id, 64),
        stats_.tls_name_mismatches);
  return false;
}

void PeerTransport::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
}

void PeerTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [key, peer] : outbound_) {
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

void PeerTransport::Fail(Outbound& peer, uint64_t generation) {
  if (peer.generation == generation) {
    asio::error_code ignored;
    peer.socket.close(ignored);
    peer.connected = false;
    ++peer.generation;
  }
  peer.failed = true;
}

void PeerTransport::DropQueue(Outbound& peer) {
  stats_.dropped_unreachable += peer.queue.size();
  peer.queue.clear();
  peer.queued_bytes = 0;
}

asio::awaitable<void> PeerTransport::ReadAnswer(std::shared_ptr<Outbound> peer,
                                                uint64_t generation) {
  FrameReader reader(options_.max_frame_bytes);
  std::vector<char> buffer(4096);
  pb::PeerMessage message;
  std::string error;
  peer->answer_deadline.Arm(peer, peer->socket,
                            milliseconds(options_.handshake_timeout_ms));
  while (!stopped_) {
    asio::error_code ec;
    size_t n = co_await peer->stream.ReadSome(asio::buffer(buffer), ec);
    if (stopped_ || peer->generation != generation) co_return;
    if (ec) {
      peer->answer_deadline.Disarm();
      if (peer->stream.tls() &&
          ec.category() == asio::error::get_ssl_category()) {
        // Under TLS 1.3 the peer checks this node's certificate after the
        // handshake has finished here: its refusal arrives as an alert.
        if (stats_.tls_handshake_failures++ % 100 == 0)
          spdlog::warn("peer {}: refused this node's certificate: {}",
                       peer->address, ec.message());
      }
      if (peer->answer_deadline.expired()) {
        ++stats_.handshake_timeouts;
        spdlog::debug("peer {}: no handshake answer within {} ms",
                      peer->address, options_.handshake_timeout_ms);
      }
      // Closed so the next Connect can open it again, after the backoff.
      asio::error_code ignored;
      peer->socket.close(ignored);
      peer->connected = false;
      peer->failed = true;
      ++peer->generation;
      co_return;
    }
    reader.Feed(std::string_view(buffer.data(), n));
    const auto outcome = reader.Next(message, error);
    if (outcome == FrameReader::Outcome::kNeedMore) continue;
    peer->answer_deadline.Disarm();
    // Nothing but the answer is expected on an outbound connection; a
    // malformed one is the inbound side's to report.
    if (outcome != FrameReader::Outcome::kMessage) co_return;
    const HandshakeVerdict verdict =
        CheckHandshake(Hello().handshake(), message);
    const bool named = CertificateMatches(
        peer->stream, message.handshake().node_id(), peer->address);
    if (verdict.kind == HandshakeVerdict::Kind::kAccept && named) {
      peer->backoff_ms = kFirstBackoffMs;  // a working connection
      peer->answered = true;
      co_return;
    }
    if (verdict.kind != HandshakeVerdict::Kind::kIncompatible && named)
      co_return;
    if (named)
      CountRefusal(message.handshake().node_id(), peer->address,
                   verdict.reason);
    ++peer->generation;
    asio::error_code ignored;
    peer->socket.close(ignored);
    peer->connected = false;
    DropQueue(*peer);
    peer->hold_until =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    peer->wake.cancel();
    co_return;
  }
}

uint64_t PeerTransport::FreeBytes(const std::string& address) const {
  auto it = outbound_.find({address, Lane::kBulk});
  const size_t queued = it == outbound_.end() ? 0 : it->second->queued_bytes;
  return queued >= options_.max_queue_bytes ? 0
                                            : options_.max_queue_bytes - queued;
}

void PeerTransport::Send(const std::string& address,
                         const pb::PeerMessage& message) {
  if (stopped_) return;
  const Lane lane = LaneOf(message);
  auto& peer = outbound_[{address, lane}];
  if (!peer) {
    peer = std::make_shared<Outbound>(io_, address, lane);
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
  const size_t bound = lane == Lane::kControl ? options_.max_control_queue_bytes
                                              : options_.max_queue_bytes;
  if (peer->queued_bytes + frame.size() > bound) {
    ++stats_.dropped_queue_full;
    return;
  }
  peer->queued_bytes += frame.size();
  peer->queue.push_back(std::move(frame));
  if (peer->idle) peer->wake.cancel();  // never cuts a backoff short
}

asio::awaitable<bool> PeerTransport::Connect(std::shared_ptr<Outbound> peer) {
  auto endpoint = ParseEndpoint(peer->address);
  if (!endpoint) co_return false;
  asio::error_code ec;
  tcp::resolver resolver(io_);
  auto results = co_await resolver.async_resolve(
      endpoint->host, std::to_string(endpoint->port),
      asio::redirect_error(asio::use_awaitable, ec));
  if (ec || results.empty() || stopped_) co_return false;
  const tcp::endpoint target = *results.begin();
  if (options_.tls.enabled() && !tls_) co_return false;  // never plaintext
  if (!tls_ || options_.tls.mode == PeerTlsMode::kOn)
    co_return co_await Dial(peer, target, tls_.has_value());
  // Permissive: TLS if the peer speaks it, else plaintext — only when the
  // peer closed the connection at once (a node still off reads the TLS
  // record as an oversized frame and closes), never after a certificate
  // refusal or a timeout, and never with an address that has spoken TLS.
  if (co_await Dial(peer, target, true)) co_return true;
  if (stopped_ || !peer->may_fall_back || tls_addresses_.count(peer->address))
    co_return false;
  ++stats_.plaintext_fallbacks;
  co_return co_await Dial(peer, target, false);
}

asio::awaitable<bool> PeerTransport::Dial(std::shared_ptr<Outbound> peer,
                                          const tcp::endpoint& target,
                                          bool tls) {
  asio::error_code ec;
  peer->may_fall_back = false;
  peer->answered = false;
  peer->answer_deadline.Disarm();  // the last connection's, if still armed
  asio::error_code ignored;
  peer->socket.close(ignored);  // whatever the last connection left open
  peer->stream.Plain();
  peer->socket.open(target.protocol(), ec);
  if (!ec && !options_.local_host.empty() && options_.local_host != "0.0.0.0" &&
      options_.local_host != "::") {
    auto local = asio::ip::make_address(options_.local_host, ec);
    if (!ec) peer->socket.bind(tcp::endpoint(local, 0), ec);
  }
  if (!ec) {
    peer->deadline.Arm(peer, peer->socket,
                       milliseconds(options_.connect_timeout_ms));
    co_await peer->socket.async_connect(
        target, asio::redirect_error(asio::use_awaitable, ec));
    peer->deadline.Disarm();
    if (ec && peer->deadline.expired()) ++stats_.connect_timeouts;
  }
  if (!ec) peer->socket.set_option(tcp::no_delay(true), ec);
  if (!ec && tls) {
    peer->stream.StartTls(*tls_);
    peer->deadline.Arm(peer, peer->socket,
                       milliseconds(options_.handshake_timeout_ms));
    co_await peer->stream.Handshake(asio::ssl::stream_base::client, ec);
    peer->deadline.Disarm();
    if (ec) {
      ++stats_.tls_handshake_failures;
      const bool timed_out = peer->deadline.expired();
      // The TLS library's verdict (another CA, no certificate) is a
      // refusal; only a peer that closed the connection is no TLS peer.
      peer->may_fall_back =
          !timed_out &&
          (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof ||
           ec == asio::error::connection_reset);
      if (stats_.tls_handshake_failures % 100 == 1)
        spdlog::warn("peer {}: TLS handshake failed: {} ({} so far)",
                     peer->address, ec.message(),
                     stats_.tls_handshake_failures);
    } else {
      tls_addresses_.insert(peer->address);
    }
  }
  if (ec) {
    peer->socket.close(ignored);
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> PeerTransport::RunOutbound(
    std::shared_ptr<Outbound> peer) {
  auto wait = [&](auto until) -> asio::awaitable<void> {
    asio::error_code ec;
    peer->wake.expires_at(until);
    co_await peer->wake.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
  };
  while (!stopped_) {
    if (peer->queue.empty()) {
      const auto idle_until = std::chrono::steady_clock::now() +
                              milliseconds(options_.idle_close_ms);
      peer->idle = true;
      co_await wait(idle_until);
      peer->idle = false;
      if (peer->queue.empty() && !stopped_ &&
          std::chrono::steady_clock::now() >= idle_until) {
        // Nothing to send for idle_close_ms: a peer that left, was
        // forgotten or moved. Its record goes; a Send makes a new one.
        asio::error_code ignored;
        peer->socket.close(ignored);
        peer->connected = false;
        ++peer->generation;
        auto it = outbound_.find({peer->address, peer->lane});
        if (it != outbound_.end() && it->second == peer) outbound_.erase(it);
        ++stats_.outbound_idle_closed;
        co_return;
      }
      continue;
    }
    if (!peer->connected) {
      const auto now = std::chrono::steady_clock::now();
      if (now < peer->hold_until) {
        DropQueue(*peer);
        co_await wait(peer->hold_until);
        continue;
      }
      if (peer->failed) {
        co_await wait(now + milliseconds(peer->backoff_ms));
        peer->backoff_ms = std::min(peer->backoff_ms * 2, kMaxBackoffMs);
        peer->failed = false;
        continue;
      }
      if (!co_await Connect(peer)) {
        ++stats_.connect_failures;
        // Messages for an unreachable peer would be stale by the time it is
        // back: gossip and repair regenerate what matters.
        DropQueue(*peer);
        peer->failed = true;
        continue;
      }
      peer->connected = true;
      ++stats_.connects;
      const uint64_t generation = ++peer->generation;
      if (!peer->stream.tls()) {
        peer->queue.push_front(HandshakeFrame());
        peer->queued_bytes += peer->queue.front().size();
        asio::co_spawn(io_, ReadAnswer(peer, generation), asio::detached);
      } else {
        // Under TLS nothing but the handshake goes out before the answer's
        // certificate has shown it names the node that answered.
        const std::string hello = HandshakeFrame();
        asio::error_code ec;
        peer->deadline.Arm(peer, peer->socket,
                           milliseconds(options_.write_timeout_ms));
        co_await peer->stream.Write(asio::buffer(hello), ec);
        peer->deadline.Disarm();
        if (ec && peer->deadline.expired()) ++stats_.write_timeouts;
        if (!ec) co_await ReadAnswer(peer, generation);
        if (stopped_) co_return;
        if (ec || !peer->answered) {
          Fail(*peer, generation);
          continue;
        }
      }
    }
    // Everything queued goes out in one write.
    std::string batch;
    const size_t frames = peer->queue.size();
    batch.reserve(peer->queued_bytes);
    for (auto& f : peer->queue) batch += f;
    peer->queue.clear();
    peer->queued_bytes = 0;
    const uint64_t generation = peer->generation;
    // In slices, each with its own deadline: the timeout bounds a write
    // that stopped moving, not how long a large batch takes on a slow link.
    asio::error_code ec;
    for (size_t at = 0; at < batch.size() && !ec; at += kWriteSliceBytes) {
      const size_t n = std::min(kWriteSliceBytes, batch.size() - at);
      peer->deadline.Arm(peer, peer->socket,
                         milliseconds(options_.write_timeout_ms));
      co_await peer->stream.Write(asio::buffer(batch.data() + at, n), ec);
      peer->deadline.Disarm();
    }
    if (ec) {
      if (peer->deadline.expired()) {
        ++stats_.write_timeouts;
        spdlog::warn(
            "peer {}: a write of {} bytes did not finish in {} ms; "
            "closing the connection",
            peer->address, batch.size(), options_.write_timeout_ms);
      } else {
        spdlog::debug("peer {}: write failed: {}", peer->address, ec.message());
      }
      stats_.dropped_unreachable += frames;
      Fail(*peer, generation);
      continue;
    }
    stats_.frames_sent += frames;
    stats_.bytes_sent += batch.size();
  }
}

}  // namespace gossipkv
