// ClientListener: accepts client connections (plain and TLS), keeps the
// sessions (server/client_session.h) within max_clients and the client
// memory budget.
#include "server/client_listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/client_session.h"
#include "server/listen.h"

namespace gossipkv {

using asio::ip::tcp;

void ClientListener::EnforceBudget() {
  const uint64_t budget = uint64_t{limits_.max_client_memory_mb} << 20;
  while (budget != 0 && client_memory_ > budget) {
    std::shared_ptr<ClientSession> largest;
    for (auto& weak : sessions_) {
      auto session = weak.lock();
      if (session && !session->evicted() &&
          (!largest || session->accounted() > largest->accounted()))
        largest = session;
    }
    if (!largest || largest->accounted() == 0) return;
    ++stats_.evicted_memory;
    spdlog::warn(
        "client memory {} bytes over max_client_memory_mb {}: closing the "
        "client holding the most ({} bytes)",
        client_memory_, limits_.max_client_memory_mb, largest->accounted());
    largest->Evict();
  }
}

ClientListener::ClientListener(asio::io_context& io, CommandExecutor& executor,
                               const ClientLimits& limits,
                               const Authenticator& auth)
    : io_(io),
      acceptor_(io),
      tls_acceptor_(io),
      executor_(executor),
      auth_(auth),
      committer_(io, executor.store()),
      limits_(limits) {}

ClientListener::~ClientListener() { Stop(); }

Status ClientListener::Listen(const Endpoint& bind) {
  return gossipkv::Listen(acceptor_, bind, "clients", port_);
}

Status ClientListener::ListenTls(const ClientTlsSettings& settings) {
  tls_.emplace(asio::ssl::context::tls_server);
  tls_->set_options(
      asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
      asio::ssl::context::no_tlsv1_1);
  asio::error_code ec;
  auto failed = [&](const std::string& what, const std::string& file) {
    return Status::InvalidArgument(fmt::format(
        "client TLS: cannot load {} {}: {}", what, file, ec.message()));
  };
  // Without an id context OpenSSL refuses to resume a session once peers
  // are verified.
  static constexpr unsigned char kSessionContext[] = "gossipkv";
  SSL_CTX_set_session_id_context(tls_->native_handle(), kSessionContext,
                                 sizeof(kSessionContext) - 1);
  tls_->use_certificate_chain_file(settings.cert_file, ec);
  if (ec) return failed("certificate", settings.cert_file);
  tls_->use_private_key_file(settings.key_file, asio::ssl::context::pem, ec);
  if (ec) return failed("key", settings.key_file);
  if (!settings.ca_cert_file.empty()) {
    tls_->load_verify_file(settings.ca_cert_file, ec);
    if (ec) return failed("CA certificates", settings.ca_cert_file);
    // A client certificate, if sent, must chain to the CA; with
    // auth_clients one must be sent.
    tls_->set_verify_mode(
        asio::ssl::verify_peer |
            (settings.auth_clients ? asio::ssl::verify_fail_if_no_peer_cert
                                   : 0),
        ec);
  }
  tls_handshake_timeout_ms_ = settings.handshake_timeout_ms;
  return gossipkv::Listen(tls_acceptor_, settings.bind, "TLS clients",
                          tls_port_);
}

void ClientListener::Start() {
  asio::co_spawn(io_, AcceptLoop(acceptor_, false), asio::detached);
  if (tls_acceptor_.is_open())
    asio::co_spawn(io_, AcceptLoop(tls_acceptor_, true), asio::detached);
}

void ClientListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  tls_acceptor_.close(ignored);
  for (auto& weak : sessions_) {
    if (auto session = weak.lock()) session->Close();
  }
  sessions_.clear();
}

asio::awaitable<void> ClientListener::AcceptLoop(tcp::acceptor& acceptor,
                                                 bool tls) {
  while (!stopped_) {
    asio::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      continue;  // e.g. out of file descriptors: keep serving the others
    }
    ++stats_.connections_received;
    if (stats_.connected >= limits_.max_clients && tls) {
      ++stats_.rejected_max_clients;
      continue;  // closed: a plaintext error would not reach a TLS client
    }
    if (stats_.connected >= limits_.max_clients) {
      ++stats_.rejected_max_clients;
      auto reply = std::make_shared<std::string>(
          fmt::format("-ERR max number of clients reached (max {})\r\n",
                      limits_.max_clients));
      auto rejected = std::make_shared<tcp::socket>(std::move(socket));
      asio::async_write(*rejected, asio::buffer(*reply),
                        [rejected, reply](asio::error_code, size_t) {
                          asio::error_code ignored;
                          rejected->close(ignored);
                        });
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++stats_.connected;
    auto session = std::make_shared<ClientSession>(
        *this, tls ? ClientStream(std::move(socket), *tls_)
                   : ClientStream(std::move(socket)));
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
    sessions_.push_back(session);
    asio::co_spawn(io_, session->Run(), asio::detached);
  }
}

}  // namespace gossipkv
