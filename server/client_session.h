// ClientSession: one client connection — reads RESP commands, runs them
// through the node's CommandExecutor into the shared batch, waits for what
// the replies vouch for (the group commit, the owners a quorum write or
// read needs), then writes the replies. Created and run only by
// ClientListener, on the io_context thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/client_listener.h"
#include "server/resp_parser.h"

namespace gossipkv {

using SteadyClock = std::chrono::steady_clock;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(ClientListener& listener, ClientStream stream)
      : listener_(listener),
        stream_(std::move(stream)),
        timer_(stream_.socket().get_executor()),
        auth_(listener.auth_),
        quorum_(listener.write_quorum_),
        read_quorum_(listener.read_quorum_),
        parser_(auth_.authenticated() ? FullLimits()
                                      : UnauthenticatedLimits()) {}

  asio::awaitable<void> Run();
  void Close() {
    asio::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
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
  // Keys one round's read from the owners asks for at most.
  static constexpr size_t kMaxPrefetchKeys = 4096;

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
    const size_t now = parser_.held_bytes() + out_.size() + reads_bytes_ +
                       parsed_bytes_ + quorum_keys_bytes_;
    listener_.client_memory_ += now;
    listener_.client_memory_ -= accounted_;
    accounted_ = now;
    listener_.EnforceBudget();
  }
  asio::awaitable<void> SendEvicted();
  // Reads `keys` not yet in reads_ from their owners at read_quorum_
  // (GroupCommitter::Read) into reads_.
  asio::awaitable<void> Fetch(std::vector<std::string> keys);
  void ForgetReads();
  // The keys the round's commands from parsed_[from] read from the owners:
  // all of that command's, then whole commands' while within
  // kMaxPrefetchKeys.
  std::vector<std::string> RoundKeys(size_t from) const;
  // Whether `keys` need a read from the owners beyond what is fetched.
  bool NeedsFetch(const std::vector<std::string>& keys) const;
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
  uint32_t round_quorum_ = 1;  // the level its waiting writes asked for
  std::vector<std::string> quorum_keys_;
  struct QuorumReply {
    size_t begin, end, index;     // index: among the replies in out_
    size_t keys_begin, keys_end;  // its keys in quorum_keys_
  };
  std::vector<QuorumReply> quorum_replies_;
  // Reads past this node (CONSISTENCY, replication.read_quorum): the level,
  // and for the commands of the current read from the socket what the
  // owners answered (fetched at reads_level_), its bytes, and the error of
  // the commit this node's answers waited for.
  uint32_t read_quorum_;
  uint32_t reads_level_ = 1;
  std::unordered_map<std::string, KeyRead> reads_;
  size_t reads_bytes_ = 0;
  Status reads_failed_;
  std::vector<std::vector<std::string>> parsed_;  // commands of one read
  size_t parsed_bytes_ = 0;                       // their arguments' bytes
  size_t quorum_keys_bytes_ = 0;                  // quorum_keys_'s
  std::vector<Request> requests_;    // with metrics: one per reply in out_
  SteadyClock::time_point read_at_;  // when their commands were read
  size_t accounted_ = 0;
  bool evicted_ = false;
  bool writing_ = false;
  bool quiet_ = false;  // evicted while writing: no error sent
  size_t evicted_bytes_ = 0;
};

}  // namespace gossipkv
