// Listen: opens, binds and listens an Asio TCP acceptor on a configured
// endpoint, with the error naming what was being listened for. Shared by
// the client listener and the peer transport; called on the node's thread.
#pragma once

#include <asio.hpp>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace gossipkv {

// On success the acceptor listens and `bound_port` holds the actual port
// (the one the kernel chose when `bind.port` is 0).
Status Listen(asio::ip::tcp::acceptor& acceptor, const Endpoint& bind,
              std::string_view what, uint16_t& bound_port);

}  // namespace gossipkv
