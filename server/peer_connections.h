// The connection records of PeerTransport: one Outbound per (peer address,
// lane), one Inbound per accepted connection. Shared by the transport's two
// source files (peer_transport.cc: sending; peer_inbound.cc: accepting and
// serving); nothing else includes it. io_context thread only.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <string>

#include "server/deadline.h"
#include "server/peer_stream.h"
#include "server/peer_transport.h"

namespace gossipkv {

struct PeerTransport::Outbound {
  Outbound(asio::io_context& io, std::string addr, Lane l)
      : address(std::move(addr)),
        lane(l),
        socket(io),
        stream(socket),
        wake(io),
        deadline(io),
        answer_deadline(io) {}
  std::string address;
  Lane lane;
  asio::ip::tcp::socket socket;
  PeerStream stream;  // over `socket`: plaintext or TLS
  // Waits for messages (cancelled by Send only while `idle`), for a backoff
  // or for a refused peer's hold.
  asio::steady_timer wake;
  bool idle = false;
  Deadline deadline;         // connect and writes
  Deadline answer_deadline;  // the handshake answer
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool connected = false;
  bool answered = false;  // the handshake was answered and accepted
  // The last TLS handshake failed as a plaintext peer's would (permissive
  // mode may dial again in plaintext).
  bool may_fall_back = false;
  uint64_t generation = 0;  // bumped at every connect
  int64_t backoff_ms = 100;
  // The last connection (or attempt) failed: the next waits out backoff_ms.
  bool failed = false;
  // Refused for its settings: not retried before this.
  std::chrono::steady_clock::time_point hold_until;
};

struct PeerTransport::Inbound {
  Inbound(asio::io_context& io, asio::ip::tcp::socket s)
      : socket(std::move(s)), stream(socket), deadline(io) {}
  asio::ip::tcp::socket socket;
  PeerStream stream;
  Deadline deadline;  // the handshake
};

}  // namespace gossipkv
