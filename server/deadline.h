// Deadline: a timeout for one operation on a socket, which Asio's sockets
// lack. Arm before the operation and Disarm after it; if the operation
// outlasts the timeout the socket is closed, which completes it with an
// error, and expired() says why. Lives inside the object that owns the
// socket (the handler checks that object is still alive); used only by the
// peer transport, on the io_context thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace gossipkv {

class Deadline {
 public:
  explicit Deadline(asio::io_context& io) : timer_(io) {}

  template <typename Owner>
  void Arm(const std::shared_ptr<Owner>& owner, asio::ip::tcp::socket& socket,
           std::chrono::milliseconds timeout) {
    const uint64_t id = ++arms_;
    expired_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait([weak = std::weak_ptr<Owner>(owner), this, &socket,
                       id](const asio::error_code& ec) {
      if (ec) return;  // disarmed, or the owner is gone
      auto alive = weak.lock();
      if (!alive || id != arms_) return;  // a later operation's deadline
      expired_ = true;
      asio::error_code ignored;
      socket.close(ignored);
    });
  }
  void Disarm() {
    ++arms_;
    timer_.cancel();
  }
  bool expired() const { return expired_; }

 private:
  asio::steady_timer timer_;
  uint64_t arms_ = 0;
  bool expired_ = false;
};

}  // namespace gossipkv
