// ClientSession: a client connection's read, execute, commit, reply loop.
#include "server/client_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

using asio::ip::tcp;

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
    // quorum_keys_bytes_ stays counted while the round waits for them.
    std::vector<std::string> written = std::move(quorum_keys_);
    std::vector<std::string> short_keys;
    quorum_keys_.clear();
    if (written.empty()) {
      committed = co_await committer.Commit();
    } else {
      const uint32_t quorum = round_quorum_;
      round_quorum_ = 1;
      GroupCommitter::Outcome outcome =
          co_await committer.Commit(written, quorum);
      committed = outcome.status;
      short_keys = std::move(outcome.short_keys);
    }
    quorum_keys_bytes_ = 0;
    if (committed.code() == Status::Code::kUnavailable) {
      // Stored here, too few owners answered: each waiting write with a key
      // that was short says so; the other replies stand.
      std::sort(short_keys.begin(), short_keys.end());
      auto is_short = [&](const QuorumReply& r) {
        if (short_keys.empty()) return true;  // the coordinator named none
        for (size_t k = r.keys_begin; k < r.keys_end; ++k) {
          if (std::binary_search(short_keys.begin(), short_keys.end(),
                                 written[k]))
            return true;
        }
        return false;
      };
      std::string out;
      size_t at = 0;
      for (const QuorumReply& r : quorum_replies_) {
        if (!is_short(r)) continue;
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
  if (out_.empty()) {
    Account();
    co_return !evicted_;
  }
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

asio::awaitable<void> ClientSession::Fetch(std::vector<std::string> keys) {
  if (read_quorum_ > reads_level_) {
    // Answers for a lower level do not count for this one.
    ForgetReads();
    reads_level_ = read_quorum_;
  }
  std::erase_if(keys,
                [this](const std::string& k) { return reads_.contains(k); });
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.empty()) co_return;
  auto result = co_await listener_.committer_.Read(keys, reads_level_);
  if (!result.status.ok()) reads_failed_ = result.status;
  for (size_t i = 0; i < keys.size(); ++i) {
    KeyRead& read = result.reads.at(i);
    reads_bytes_ += keys[i].size();
    if (read.entry) {
      for (const auto& sibling : read.entry->siblings)
        reads_bytes_ += sibling.value.size() + sizeof(sibling);
    }
    reads_.emplace(std::move(keys[i]), std::move(read));
  }
  Account();
}

std::vector<std::string> ClientSession::RoundKeys(size_t from) const {
  std::vector<std::string> keys;
  for (size_t at = from; at < parsed_.size(); ++at) {
    auto more = CommandExecutor::QuorumReadKeys(parsed_[at]);
    if (at > from && keys.size() + more.size() > kMaxPrefetchKeys) break;
    for (auto& key : more) keys.push_back(std::move(key));
  }
  return keys;
}

bool ClientSession::NeedsFetch(const std::vector<std::string>& keys) const {
  if (keys.empty()) return false;
  if (read_quorum_ > reads_level_) return true;
  return std::any_of(keys.begin(), keys.end(), [this](const std::string& k) {
    return !reads_.contains(k);
  });
}

void ClientSession::ForgetReads() {
  reads_.clear();
  reads_level_ = 1;
  reads_bytes_ = 0;
  reads_failed_ = Status::Ok();
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
    // Every command this read completed, then the error that ended it; an
    // AUTH ends a round early, so the commands after it parse under the
    // limits it grants.
    bool again = true;
    while (again && open) {
      again = false;
      parsed_.clear();
      parsed_bytes_ = 0;
      bool parse_error = false;
      while (true) {
        RespParser::Outcome outcome = parser_.Next(args, error);
        if (outcome == RespParser::Outcome::kNeedMore) break;
        if (outcome == RespParser::Outcome::kError) {
          parse_error = true;
          break;
        }
        const bool auth = !auth_.authenticated() && !args.empty() &&
                          AsciiUpper(args[0]) == "AUTH";
        for (const auto& arg : args) parsed_bytes_ += arg.size();
        parsed_.push_back(std::move(args));
        if (auth) {
          again = true;
          break;
        }
      }
      Account();  // the parsed commands left the parser's buffer
      if (evicted_) break;
      if (read_quorum_ > 1 && auth_.authenticated()) {
        // One read from the owners for the keys this round reads.
        co_await Fetch(RoundKeys(0));
        if (evicted_) break;
      }
      for (size_t at = 0; at < parsed_.size(); ++at) {
        if (!open) break;
        std::vector<std::string>& args = parsed_[at];
        ++replies_;
        const size_t reply_at = out_.size();
        const bool was_authenticated = auth_.authenticated();
        const bool admitted =
            auth_.Admit(args, out_, listener_.stats_.auth_failures);
        if (!was_authenticated && auth_.authenticated())
          parser_.set_limits(FullLimits());
        // Only an authenticated client keeps itself from the idle timeout.
        if (auth_.authenticated()) ResetDeadline();
        if (admitted && !quorum_keys_.empty() &&
            AsciiUpper(args[0]) == "CONSISTENCY") {
          // The writes before a level change wait for their own level: the
          // round ends here.
          --replies_;
          if (!co_await Flush()) {
            open = false;
            break;
          }
          ++replies_;
        }
        if (admitted && read_quorum_ > 1) {
          if (NeedsFetch(CommandExecutor::QuorumReadKeys(args))) {
            // Keys the round's read did not cover (a higher CONSISTENCY,
            // or past kMaxPrefetchKeys): what came before is committed and
            // answered first, so no reply waits across the fetch on a
            // commit it did not see; then one read for the rest.
            --replies_;
            if (!co_await Flush()) {
              open = false;
              break;
            }
            ++replies_;
            ForgetReads();
            co_await Fetch(RoundKeys(at));
            if (evicted_) break;
          }
        }
        const ReadView view{&reads_, read_quorum_, listener_.read_timeout_ms_,
                            reads_failed_};
        executor.set_read_view(read_quorum_ > 1 ? &view : nullptr);
        if (admitted && executor.Execute(args, committer.batch(), out_) ==
                            CommandExecutor::After::kClose) {
          open = false;
        }
        executor.set_read_view(nullptr);
        if (admitted) {
          if (auto level = executor.last_consistency()) {
            quorum_ = *level;
            read_quorum_ = *level;
          }
          const auto& written = executor.last_written();
          if (quorum_ > 1 && !written.empty()) {
            const size_t keys_begin = quorum_keys_.size();
            quorum_keys_.insert(quorum_keys_.end(), written.begin(),
                                written.end());
            for (const auto& key : written) quorum_keys_bytes_ += key.size();
            // One level per round (a CONSISTENCY ends the round before it).
            round_quorum_ = std::max(round_quorum_, quorum_);
            quorum_replies_.push_back({reply_at, out_.size(), replies_ - 1,
                                       keys_begin, quorum_keys_.size()});
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
      ForgetReads();
      parsed_.clear();  // what waits for the next read holds nothing
      parsed_bytes_ = 0;
      Account();
      if (parse_error && open && !evicted_) {
        ++listener_.stats_.protocol_errors;
        // Earlier commands of this read are answered first, then the error.
        if (!co_await Flush()) break;
        resp::AppendError(out_, "ERR " + error);
        open = false;
      }
      if (evicted_) break;
      if (!co_await Flush()) {
        open = false;
        break;
      }
    }
    if (evicted_) break;
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

}  // namespace gossipkv
