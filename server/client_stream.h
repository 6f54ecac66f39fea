// ClientStream: a client connection, plaintext or TLS (Asio's SSL stream
// over OpenSSL), with one read, write and handshake interface for
// ClientSession (server/client_listener.cc), its only user. One strand.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <optional>

#include "server/tls_io.h"

namespace gossipkv {

class ClientStream {
 public:
  using tcp = asio::ip::tcp;
  explicit ClientStream(tcp::socket socket) : plain_(std::move(socket)) {}
  ClientStream(tcp::socket socket, asio::ssl::context& tls)
      : plain_(socket.get_executor()),
        tls_(std::in_place, std::move(socket), tls) {}

  bool tls() const { return tls_.has_value(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

  // The TLS handshake (nothing for plaintext); false if it failed.
  asio::awaitable<bool> Handshake() {
    if (!tls_) co_return true;
    asio::error_code ec;
    co_await tls_->async_handshake(
        asio::ssl::stream_base::server,
        asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }
  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buffer,
                                   asio::error_code& ec) {
    return ReadSomeFrom(tls_, plain_, buffer, ec);
  }
  asio::awaitable<void> Write(asio::const_buffer buffer, asio::error_code& ec) {
    return WriteAllTo(tls_, plain_, buffer, ec);
  }

 private:
  tcp::socket plain_;  // unused (closed) under TLS
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace gossipkv
