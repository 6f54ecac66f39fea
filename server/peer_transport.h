// PeerTransport: the Asio side of the peer protocol.
//
// Each node keeps two outbound TCP connections per peer address, one per
// lane: membership gossip goes on the control lane, rumors, repair and GC
// on the bulk lane, so a long repair stream never delays a heartbeat into
// a false suspicion. Each opens lazily on the first message of its lane,
// within connect_timeout_ms, beginning with a Handshake (cluster name,
// protocol version, node id, the address it accepts peers on, the settings
// it must share: server/peer_handshake.h) that must be answered within
// handshake_timeout_ms. A connection that fails, times out or is closed is
// retried with exponential backoff (100 ms doubling to 5 s, back to 100 ms
// only once a handshake is answered; queuing a message does not cut a wait
// short); while a peer is unreachable its queued messages are dropped rather
// than delivered stale. Each lane's queue is bounded (FreeBytes tells the
// replication layer the bulk lane's room); a message that does not fit is
// dropped and counted. A write that does not finish within write_timeout_ms
// closes the connection.
//
// Inbound connections must open with a matching Handshake within
// handshake_timeout_ms, answered with this node's own, so the connecting
// side checks the settings too; beyond max_connections they are closed at
// once. Then every frame whose `from` is the handshake's node id is handed
// to the node (others are dropped and counted). A frame over
// max_frame_bytes (checked before allocating), bytes that do not parse, a
// message of unknown type or a wrong handshake close that connection, are
// counted, and affect no one else. A peer whose settings differ is refused
// (logged with both values, counted); an outbound connection so refused is
// retried after 5 s.
//
// With peer.tls on, every connection both ways is TLS with a certificate
// of the cluster CA on each side. The accepting side refuses a peer whose
// certificate does not name the node id its handshake claims (counted,
// logged); the dialing side sends nothing but its handshake until the
// answer's certificate names the node id the answer claims. In permissive
// mode inbound connections may be either (told apart by the first byte: a
// TLS record opens with 0x16, which as a frame's length would be over any
// max_frame_bytes permissive allows), and a dial tries TLS first and
// retries in plaintext only when the peer closed the connection at once —
// not after a certificate refusal or a timeout, and never to an address
// that has spoken TLS since this node started — so a cluster moves off ->
// permissive
// -> on a node at a time.
//
// Lives on, and is only touched from, the node's io_context thread.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "config/config.h"
#include "proto/peer.pb.h"
#include "server/peer_frame.h"

namespace gossipkv {

class PeerStream;

struct PeerStats {
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t connections_accepted = 0;
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t protocol_errors = 0;
  uint64_t dropped_unreachable =
      0;  // queued for a peer that could not be reached
  uint64_t refused_incompatible = 0;  // handshakes with other settings
  std::string last_refusal;           // "n3 at host:port: <reason>"
  uint64_t dropped_wrong_from = 0;    // `from` not the connection's node id
  uint64_t dropped_oversized = 0;     // messages over max_frame_bytes
  uint64_t dropped_queue_full = 0;    // the peer's queue had no room
  uint64_t connect_timeouts = 0;
  uint64_t handshake_timeouts = 0;  // outbound unanswered, inbound silent
  uint64_t write_timeouts = 0;
  uint64_t connections_refused = 0;   // inbound beyond max_connections
  uint64_t outbound_idle_closed = 0;  // records dropped after idle_close_ms
  // Mutual TLS (peer.tls): handshakes that failed either way (another CA,
  // no certificate, plaintext where TLS is required), certificates that
  // do not name the node id claimed, and in permissive mode the plaintext
  // connections accepted and the dials that fell back to plaintext.
  uint64_t tls_handshake_failures = 0;
  uint64_t tls_name_mismatches = 0;
  uint64_t plaintext_accepted = 0;
  uint64_t plaintext_fallbacks = 0;
};

class PeerTransport {
 public:
  struct Options {
    std::string cluster_name;
    std::string node_id;
    std::string advertise_address;  // set after Listen when the port was 0
    uint32_t max_frame_bytes = 17 << 20;
    // Per peer; a message that does not fit drops (FreeBytes tells the
    // replication layer how much fits). At least max_frame_bytes.
    size_t max_queue_bytes = 17 << 20;
    // Outbound connections leave from this address (the peer bind host), so
    // peers and packet filters see which node is speaking. Empty or a
    // wildcard: the kernel chooses.
    std::string local_host;
    pb::Compatibility settings;  // sent in the handshake and checked
    uint32_t connect_timeout_ms = 3000;
    uint32_t handshake_timeout_ms = 5000;
    uint32_t write_timeout_ms = 30'000;
    uint32_t max_connections = 512;            // inbound
    size_t max_control_queue_bytes = 1 << 20;  // control lane, per peer
    uint32_t idle_close_ms = 300'000;          // an idle outbound record goes
    PeerTlsSettings tls;                       // off: plaintext only
  };
  enum class Lane { kControl, kBulk };
  // Membership gossip is control; everything else is bulk.
  static Lane LaneOf(const pb::PeerMessage& message);
  using Handler = std::function<void(const std::string& from_address,
                                     const pb::PeerMessage&)>;

  PeerTransport(asio::io_context& io, Options options, Handler handler);
  ~PeerTransport();

  // Loads the TLS certificates (with peer.tls on or permissive), then
  // binds and listens.
  Status Listen(const Endpoint& bind);
  uint16_t port() const { return port_; }
  void set_advertise_address(std::string address) {
    options_.advertise_address = std::move(address);
  }
  void Start();
  void Stop();

  // Queues a message for the peer at `address` ("host:port").
  void Send(const std::string& address, const pb::PeerMessage& message);
  // Bytes that can still be queued on the bulk lane to `address`.
  uint64_t FreeBytes(const std::string& address) const;
  // Live inbound connections.
  size_t inbound_connections() const;
  // Outbound records (one per peer address and lane).
  size_t outbound_records() const { return outbound_.size(); }

  const PeerStats& stats() const { return stats_; }

 private:
  struct Outbound;
  struct Inbound;
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> ServeInbound(std::shared_ptr<Inbound> inbound);
  asio::awaitable<void> RunOutbound(std::shared_ptr<Outbound> peer);
  // Connects `peer` (resolve, bind, connect within the timeout); false when
  // it cannot be reached.
  asio::awaitable<bool> Connect(std::shared_ptr<Outbound> peer);
  // Connect's TCP part; `tls`: then the TLS handshake.
  asio::awaitable<bool> Dial(std::shared_ptr<Outbound> peer,
                             const asio::ip::tcp::endpoint& target, bool tls);
  // The inbound side's TLS: on, a handshake; permissive, one if the first
  // byte opens one. False if the connection must close.
  asio::awaitable<bool> AcceptTls(Inbound& inbound);
  // Under TLS, whether the peer's certificate names the node id it claims;
  // counts and logs a mismatch.
  bool CertificateMatches(PeerStream& stream, const std::string& node_id,
                          const std::string& address);
  // Closes connection `generation` of `peer` if it is still the current
  // one; the next connect waits out the backoff.
  void Fail(Outbound& peer, uint64_t generation);
  // Drops what `peer` has queued, counted as unreachable.
  void DropQueue(Outbound& peer);
  // Reads the handshake an outbound peer answers with, on connection
  // `generation`; refuses the peer if its settings differ.
  asio::awaitable<void> ReadAnswer(std::shared_ptr<Outbound> peer,
                                   uint64_t generation);
  pb::PeerMessage Hello() const;
  std::string HandshakeFrame() const { return EncodeFrame(Hello()); }
  void CountRefusal(const std::string& node_id, const std::string& address,
                    const std::string& reason);

  asio::io_context& io_;
  Options options_;
  Handler handler_;
  asio::ip::tcp::acceptor acceptor_;
  std::optional<asio::ssl::context> tls_;  // with peer.tls on or permissive
  uint16_t port_ = 0;
  bool stopped_ = false;
  PeerStats stats_;
  std::map<std::pair<std::string, Lane>, std::shared_ptr<Outbound>> outbound_;
  std::list<std::weak_ptr<Inbound>> inbound_;
  // Addresses a TLS handshake has succeeded with since the start: never
  // dialed in plaintext again (permissive mode).
  std::set<std::string> tls_addresses_;
};

}  // namespace gossipkv
