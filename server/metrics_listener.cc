// MetricsListener: accept, read one request head, answer, close.
#include "server/metrics_listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/listen.h"

namespace gossipkv {

using asio::ip::tcp;

namespace {

std::string Response(std::string_view status, std::string_view type,
                     std::string_view body, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n",
      status, type, body.size());
  if (!head_only) out.append(body);
  return out;
}

}  // namespace

MetricsListener::MetricsListener(asio::io_context& io,
                                 const MetricsSettings& settings,
                                 std::function<std::string()> render)
    : io_(io), settings_(settings), render_(std::move(render)), acceptor_(io) {}

Status MetricsListener::Listen() {
  return gossipkv::Listen(acceptor_, settings_.bind, "metrics", port_);
}

void MetricsListener::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
}

void MetricsListener::Stop() {
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> MetricsListener::AcceptLoop() {
  while (!stopped_) {
    asio::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    if (open_ >= settings_.max_connections) {
      ++stats_.refused;
      socket.close(ec);
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> MetricsListener::Serve(tcp::socket accepted) {
  ++open_;
  // Shared with the deadline's handler, which may run after this returns.
  auto socket = std::make_shared<tcp::socket>(std::move(accepted));
  asio::steady_timer deadline(io_);
  deadline.expires_after(
      std::chrono::milliseconds(settings_.request_timeout_ms));
  deadline.async_wait([socket](asio::error_code ec) {
    if (!ec) socket->close(ec);  // too slow: the read or write fails
  });
  std::string head;
  asio::error_code ec;
  co_await asio::async_read_until(
      *socket, asio::dynamic_buffer(head, settings_.max_request_bytes),
      "\r\n\r\n", asio::redirect_error(asio::use_awaitable, ec));
  std::string out;
  if (!ec) {
    out = Answer(head);
  } else if (ec == asio::error::not_found) {  // the head is too long
    ++stats_.bad_requests;
    out = Response("431 Request Header Fields Too Large", "text/plain",
                   "request head too large\n", false);
  } else {
    ++stats_.bad_requests;  // closed, or not whole in time
  }
  if (!out.empty() && socket->is_open()) {
    co_await asio::async_write(*socket, asio::buffer(out),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  deadline.cancel();
  socket->shutdown(tcp::socket::shutdown_both, ec);
  socket->close(ec);
  --open_;
}

std::string MetricsListener::Answer(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
  if (sp2 == line.npos || !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    ++stats_.bad_requests;
    return Response("400 Bad Request", "text/plain", "bad request line\n",
                    false);
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    ++stats_.bad_requests;
    return Response("405 Method Not Allowed", "text/plain",
                    "only GET /metrics\n", false);
  }
  if (path != "/metrics") {
    ++stats_.bad_requests;
    return Response("404 Not Found", "text/plain", "see /metrics\n", head_only);
  }
  ++stats_.scrapes;
  return Response("200 OK", "text/plain; version=0.0.4; charset=utf-8",
                  render_(), head_only);
}

}  // namespace gossipkv
