// Reads and writes on a connection that is plaintext, or TLS once its
// optional SSL stream is set: the one branch ClientStream and PeerStream
// share. Called from those two only, on the io_context thread.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <optional>

namespace gossipkv {

template <typename Tls>
asio::awaitable<size_t> ReadSomeFrom(std::optional<Tls>& tls,
                                     asio::ip::tcp::socket& plain,
                                     asio::mutable_buffer buffer,
                                     asio::error_code& ec) {
  if (tls) {
    co_return co_await tls->async_read_some(
        buffer, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return co_await plain.async_read_some(
      buffer, asio::redirect_error(asio::use_awaitable, ec));
}

template <typename Tls>
asio::awaitable<void> WriteAllTo(std::optional<Tls>& tls,
                                 asio::ip::tcp::socket& plain,
                                 asio::const_buffer buffer,
                                 asio::error_code& ec) {
  if (tls) {
    co_await asio::async_write(*tls, buffer,
                               asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await asio::async_write(plain, buffer,
                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace gossipkv
