// ClientListener: accepts RESP client connections and runs one ClientSession
// coroutine per connection on the node's io_context.
//
// A session reads what the socket has, parses every complete command in it,
// runs them through the CommandExecutor into the node's shared WriteSet
// (GroupCommitter), waits for that to commit — one engine write, one fsync,
// for every session of the loop turn — and only then writes the replies: no
// reply acknowledges, or shows, a write that is not stored. It reads no more
// until the replies are written, which bounds what a client that does not
// read can make the server hold.
//
// Limits (config [limits]): framing garbage, oversized arguments or too many
// arguments get an -ERR naming the limit and the connection is closed; a
// client with no complete command for idle_timeout_ms is closed; connections
// past max_clients are refused with an error. A bulk longer than
// max_key_bytes and max_value_bytes is refused at its header, before any of
// it is buffered. The bytes every session holds (the parser's partial
// request, replies not yet written) are summed; past max_client_memory_mb
// the sessions holding the most get an -ERR naming the limit and are closed
// until the sum is back under it. Other clients are unaffected.
//
// Lives on, and is only touched from, the io_context thread.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <list>
#include <memory>

#include "config/config.h"
#include "server/auth.h"
#include "server/client_stream.h"
#include "server/command_executor.h"
#include "server/group_commit.h"
#include "server/metrics.h"

namespace gossipkv {

struct ClientStats {
  uint64_t connections_received = 0;
  uint64_t connected = 0;
  uint64_t rejected_max_clients = 0;
  uint64_t protocol_errors = 0;
  uint64_t idle_timeouts = 0;
  uint64_t commit_failures = 0;
  uint64_t evicted_memory = 0;  // closed past max_client_memory_mb
  uint64_t auth_failures = 0;   // AUTH with a wrong user or password
  uint64_t tls_handshake_failures = 0;
  uint64_t quorum_failures = 0;  // writes answered -NOREPLICAS
};

class ClientSession;

class ClientListener {
 public:
  // `auth` outlives the listener.
  ClientListener(asio::io_context& io, CommandExecutor& executor,
                 const ClientLimits& limits, const Authenticator& auth);
  ~ClientListener();

  // Binds and listens; port 0 picks a free port (see port()).
  Status Listen(const Endpoint& bind);
  uint16_t port() const { return port_; }
  // Loads the certificates and listens for TLS clients too (tls_port()).
  Status ListenTls(const ClientTlsSettings& settings);
  uint16_t tls_port() const { return tls_port_; }
  void Start();
  // Stops accepting and closes every session.
  void Stop();

  const ClientStats& stats() const { return stats_; }
  // Bytes buffered by all sessions now.
  uint64_t client_memory() const { return client_memory_; }
  // Counts every request in `metrics` (outlives the listener) from now on.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }
  // Owners a write waits for (replication.write_quorum) unless its
  // connection said otherwise (CONSISTENCY); 1 by default.
  void set_write_quorum(uint32_t quorum) { write_quorum_ = quorum; }
  // Owners a read asks (replication.read_quorum) unless its connection
  // said otherwise (CONSISTENCY); 1 by default.
  // `timeout_ms` is how long it waits (named in -NOREPLICAS).
  void set_read_quorum(uint32_t quorum, uint32_t timeout_ms) {
    read_quorum_ = quorum;
    read_timeout_ms_ = timeout_ms;
  }
  const GroupCommitter& committer() const { return committer_; }
  GroupCommitter& committer() { return committer_; }

 private:
  friend class ClientSession;
  asio::awaitable<void> AcceptLoop(asio::ip::tcp::acceptor& acceptor, bool tls);
  // Closes the sessions holding the most until the sum is within budget.
  void EnforceBudget();

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor tls_acceptor_;
  std::optional<asio::ssl::context> tls_;
  uint32_t tls_handshake_timeout_ms_ = 5000;
  uint16_t tls_port_ = 0;
  CommandExecutor& executor_;
  const Authenticator& auth_;
  GroupCommitter committer_;
  ClientLimits limits_;
  uint16_t port_ = 0;
  ClientStats stats_;
  uint64_t client_memory_ = 0;
  Metrics* metrics_ = nullptr;
  uint32_t write_quorum_ = 1;
  uint32_t read_quorum_ = 1;
  uint32_t read_timeout_ms_ = 2000;
  std::list<std::weak_ptr<ClientSession>> sessions_;
  bool stopped_ = false;
};

}  // namespace gossipkv
