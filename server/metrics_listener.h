// MetricsListener: serves the Prometheus scrape, GET /metrics, over plain
// HTTP/1.1 on the node's io_context. Each connection gets one answer and is
// closed; the text is rendered on the loop thread, so it reads the node's
// state without locks (prometheus-cpp's own exposer would render on its
// web server's threads). Bounds ([metrics]): max_connections served at
// once (more are closed at accept), a request head of at most
// max_request_bytes that must arrive within request_timeout_ms. Anything
// but GET or HEAD of /metrics gets 404 or 405. Owned by the node; called
// on its io_context thread.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "config/config.h"
#include "util/status.h"

namespace gossipkv {

struct MetricsListenerStats {
  uint64_t scrapes = 0;
  uint64_t bad_requests = 0;  // malformed, too large, too slow, not /metrics
  uint64_t refused = 0;       // over max_connections
};

class MetricsListener {
 public:
  // `render` returns the body of a scrape.
  MetricsListener(asio::io_context& io, const MetricsSettings& settings,
                  std::function<std::string()> render);

  Status Listen();
  uint16_t port() const { return port_; }
  void Start();
  void Stop();
  const MetricsListenerStats& stats() const { return stats_; }

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket);
  // The answer to `head` (request line and headers).
  std::string Answer(std::string_view head);

  asio::io_context& io_;
  MetricsSettings settings_;
  std::function<std::string()> render_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  uint32_t open_ = 0;
  bool stopped_ = false;
  MetricsListenerStats stats_;
};

}  // namespace gossipkv
