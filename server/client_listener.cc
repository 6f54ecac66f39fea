// ClientListener and ClientSession: the Asio side of the client protocol.
#include "server/client_listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "server/listen.h"
#include "server/resp_parser.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(ClientListener& listener, ClientStream stream)
      : listener_(listener),
        stream_(std::move(stream)),
        timer_(stream_.socket().get_executor()),
        auth_(listener.auth_),
        quorum_(listener.write_quorum_),
        parser_(auth_.authenticated() ? FullLimits()
                                      : UnauthenticatedLimits()) {}

  asio::awaitable<void> Run();
  void Close() {
    asio::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    timer_.cancel();
  }
  // What this session holds, as last counted.
  size_t accounted() const { return accounted_; }
  bool evicted() const { return evicted_; }
  // Called by the listener: the session stops, answers with an error and
  // closes; its bytes no longer count.
  void Evict() {
    evicted_ = true;
    evicted_bytes_ = accounted_;
    // A client not reading its replies would not read the error either.
    quiet_ = writing_;
    listener_.client_memory_ -= accounted_;
    accounted_ = 0;
    asio::error_code ignored;
    stream_.socket().cancel(
        ignored);  // wakes its read (a write in flight fails)
  }

 private:
  // Replies are flushed once this much is queued, even mid-pipeline.
  static constexpr size_t kFlushBytes = 256 * 1024;
  // A session pipelining writes commits once this many keys are pending.
  static constexpr size_t kMaxBatchKeys = 4096;

  asio::awaitable<void> Watchdog();
  RespLimits FullLimits() const {
    const ClientLimits& l = listener_.limits_;
    return RespLimits{std::max(l.max_key_bytes, l.max_value_bytes),
                      l.max_arguments, l.max_request_bytes, l.max_inline_bytes};
  }
  RespLimits UnauthenticatedLimits() const {
    const ClientLimits& l = listener_.limits_;
    return RespLimits{l.max_unauthenticated_bytes,
                      l.max_unauthenticated_arguments,
                      l.max_unauthenticated_bytes,
                      std::min(l.max_inline_bytes, l.max_unauthenticated_bytes),
                      " before AUTH"};
  }
  void ResetDeadline() {
    deadline_ = SteadyClock::now() +
                std::chrono::milliseconds(listener_.limits_.idle_timeout_ms);
  }
  // Waits for the shared batch to commit if any reply depends on it, then
  // sends the replies; false if the socket failed.
  asio::awaitable<bool> Flush();
  // Recounts what this session holds; past the budget, evicts the largest
  // (perhaps this one).
  void Account() {
    if (evicted_) return;
    const size_t now = parser_.held_bytes() + out_.size();
    listener_.client_memory_ += now;
    listener_.client_memory_ -= accounted_;
    accounted_ = now;
    listener_.EnforceBudget();
  }
  asio::awaitable<void> SendEvicted();
  // Counts the replies just written (or failed) in the metrics.
  void RecordRequests(bool committed);

  // A reply in out_, for the metrics.
  struct Request {
    int16_t command;  // CommandExecutor::last_command(); -1 unknown
    Metrics::Result result;
  };

  ClientListener& listener_;
  ClientStream stream_;
  asio::steady_timer timer_;
  SteadyClock::time_point deadline_;
  SessionAuth auth_;
  bool handshaking_ = false;  // a TLS handshake is under way
  RespParser parser_;
  std::string out_;
  // Replies in out_; should their round fail to commit, every one becomes an
  // error (a read may have seen another session's uncommitted write).
  size_t replies_ = 0;
  // Owners this connection's writes wait for (CONSISTENCY), and the writes
  // in out_ that wait: their keys, and where each reply lies in out_ (it
  // becomes -NOREPLICAS should too few owners answer).
  uint32_t quorum_;
  uint32_t round_quorum_ = 1;  // the most its waiting writes asked for
  std::vector<std::string> quorum_keys_;
  struct QuorumReply {
    size_t begin, end, index;  // index: among the replies in out_
  };
  std::vector<QuorumReply> quorum_replies_;
  std::vector<Request> requests_;    // with metrics: one per reply in out_
  SteadyClock::time_point read_at_;  // when their commands were read
  size_t accounted_ = 0;
  bool evicted_ = false;
  bool writing_ = false;
  bool quiet_ = false;  // evicted while writing: no error sent
  size_t evicted_bytes_ = 0;
};

asio::awaitable<void> ClientSession::SendEvicted() {
  out_ = fmt::format(
      "-ERR client memory limit reached (max_client_memory_mb {}): closing "
      "this client, which held {} bytes\r\n",
      listener_.limits_.max_client_memory_mb, evicted_bytes_);
  asio::error_code ec;
  co_await stream_.Write(asio::buffer(out_), ec);
}

asio::awaitable<void> ClientSession::Watchdog() {
  auto self = shared_from_this();
  while (stream_.socket().is_open()) {
    timer_.expires_at(deadline_);
    asio::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!stream_.socket().is_open()) break;
    if (SteadyClock::now() >= deadline_) {
      ++listener_.stats_.idle_timeouts;
      spdlog::debug("closing idle client");
      Close();
      break;
    }
  }
}

void ClientSession::RecordRequests(bool committed) {
  Metrics* metrics = listener_.metrics_;
  if (metrics == nullptr) return;
  const double seconds =
      std::chrono::duration<double>(SteadyClock::now() - read_at_).count();
  for (const Request& r : requests_) {
    metrics->Request(r.command, committed ? r.result : Metrics::Result::kError,
                     seconds);
  }
  requests_.clear();
}

asio::awaitable<bool> ClientSession::Flush() {
  GroupCommitter& committer = listener_.committer_;
  bool committed_ok = true;
  if (committer.pending() || !quorum_keys_.empty()) {
    // No co_await inside ?: — GCC 12 frees the coroutine frame wrongly.
    Status committed;
    if (quorum_keys_.empty()) {
      committed = co_await committer.Commit();
    } else {
      std::vector<std::string> keys = std::move(quorum_keys_);
      quorum_keys_.clear();
      const uint32_t quorum = round_quorum_;
      round_quorum_ = 1;
      committed = co_await committer.Commit(std::move(keys), quorum);
    }
    if (committed.code() == Status::Code::kUnavailable) {
      // Stored here, too few owners answered: each waiting write says so;
      // the other replies stand.
      std::string out;
      size_t at = 0;
      for (const QuorumReply& r : quorum_replies_) {
        out.append(out_, at, r.begin - at);
        resp::AppendError(out, "NOREPLICAS " + committed.message());
        at = r.end;
        if (r.index < requests_.size())
          requests_[r.index].result = Metrics::Result::kError;
        ++listener_.stats_.quorum_failures;
      }
      out.append(out_, at, std::string::npos);
      out_ = std::move(out);
    } else if (!committed.ok()) {
      committed_ok = false;
      ++listener_.stats_.commit_failures;
      out_.clear();
      for (size_t i = 0; i < replies_; ++i) {
        resp::AppendError(out_, "IOERR not stored: " + committed.message());
      }
    }
  }
  replies_ = 0;
  quorum_replies_.clear();
  if (out_.empty()) co_return true;
  asio::error_code ec;
  writing_ = true;
  co_await stream_.Write(asio::buffer(out_), ec);
  writing_ = false;
  RecordRequests(committed_ok);
  out_.clear();
  if (out_.capacity() > 4 * kFlushBytes) out_.shrink_to_fit();
  Account();
  co_return !ec && !evicted_;
}

asio::awaitable<void> ClientSession::Run() {
  auto self = shared_from_this();
  if (stream_.tls()) {
    // A client that does not finish its handshake in time (or speaks
    // plaintext to the TLS port) is closed; nobody else notices.
    asio::steady_timer guard(stream_.socket().get_executor());
    guard.expires_after(
        std::chrono::milliseconds(listener_.tls_handshake_timeout_ms_));
    handshaking_ = true;
    guard.async_wait([this, self](asio::error_code ec) {
      if (!ec && handshaking_) Close();
    });
    const bool ok = co_await stream_.Handshake();
    handshaking_ = false;
    guard.cancel();
    if (!ok) {
      ++listener_.stats_.tls_handshake_failures;
      Close();
      --listener_.stats_.connected;
      co_return;
    }
  }
  ResetDeadline();
  if (listener_.limits_.idle_timeout_ms > 0) {
    asio::co_spawn(stream_.socket().get_executor(), Watchdog(), asio::detached);
  }
  CommandExecutor& executor = listener_.executor_;
  GroupCommitter& committer = listener_.committer_;
  std::vector<char> buffer(64 * 1024);
  std::vector<std::string> args;
  std::string error;
  bool open = true;
  while (open) {
    asio::error_code ec;
    size_t n = co_await stream_.ReadSome(asio::buffer(buffer), ec);
    if (ec || evicted_) break;
    if (listener_.metrics_ != nullptr) read_at_ = SteadyClock::now();
    parser_.Feed(std::string_view(buffer.data(), n));
    Account();
    if (evicted_) break;
    while (open) {
      RespParser::Outcome outcome = parser_.Next(args, error);
      if (outcome == RespParser::Outcome::kNeedMore) break;
      if (outcome == RespParser::Outcome::kError) {
        ++listener_.stats_.protocol_errors;
        // Earlier commands of this read are answered first, then the error.
        if (!co_await Flush()) break;
        resp::AppendError(out_, "ERR " + error);
        open = false;
        break;
      }
      ++replies_;
      const size_t reply_at = out_.size();
      const bool was_authenticated = auth_.authenticated();
      const bool admitted =
          auth_.Admit(args, out_, listener_.stats_.auth_failures);
      if (!was_authenticated && auth_.authenticated())
        parser_.set_limits(FullLimits());
      // Only an authenticated client keeps itself from the idle timeout.
      if (auth_.authenticated()) ResetDeadline();
      if (admitted && executor.Execute(args, committer.batch(), out_) ==
                          CommandExecutor::After::kClose) {
        open = false;
      }
      if (admitted) {
        if (auto level = executor.last_consistency()) quorum_ = *level;
        const auto& written = executor.last_written();
        if (quorum_ > 1 && !written.empty()) {
          quorum_keys_.insert(quorum_keys_.end(), written.begin(),
                              written.end());
          // The round waits for the most any of its writes asked.
          round_quorum_ = std::max(round_quorum_, quorum_);
          quorum_replies_.push_back({reply_at, out_.size(), replies_ - 1});
        }
      }
      if (listener_.metrics_ != nullptr) {
        const bool error = out_.size() > reply_at && out_[reply_at] == '-';
        const bool auth = !admitted && AsciiUpper(args[0]) == "AUTH";
        int command = executor.last_command();
        if (auth)
          command = listener_.metrics_->auth_command();
        else if (!admitted)
          command = CommandExecutor::IndexOf(args[0]);
        requests_.push_back({static_cast<int16_t>(command),
                             !admitted && !auth ? Metrics::Result::kDenied
                             : error            ? Metrics::Result::kError
                                                : Metrics::Result::kOk});
      }
      Account();
      if (evicted_) {
        open = false;
        break;
      }
      if ((out_.size() >= kFlushBytes ||
           committer.batch().size() >= kMaxBatchKeys) &&
          !co_await Flush()) {
        open = false;
      }
    }
    if (!co_await Flush()) break;
  }
  if (evicted_ && !quiet_) {
    out_.clear();  // replies not written are lost with the connection
    co_await SendEvicted();
  }
  listener_.client_memory_ -= accounted_;
  accounted_ = 0;
  Close();
  --listener_.stats_.connected;
}

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
