// Listen: acceptor set-up with address reuse, error codes turned to Status.
#include "server/listen.h"

#include <fmt/format.h>

namespace gossipkv {

Status Listen(asio::ip::tcp::acceptor& acceptor, const Endpoint& bind,
              std::string_view what, uint16_t& bound_port) {
  using asio::ip::tcp;
  asio::error_code ec;
  auto address = asio::ip::make_address(bind.host, ec);
  if (ec)
    return Status::InvalidArgument(
        fmt::format("bad {} bind address '{}'", what, bind.host));
  tcp::endpoint endpoint(address, bind.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError(fmt::format("cannot listen for {} on {}: {}", what,
                                       bind.ToString(), ec.message()));
  }
  bound_port = acceptor.local_endpoint().port();
  return Status::Ok();
}

}  // namespace gossipkv
