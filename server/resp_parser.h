// RespParser: incremental parser of client requests in RESP2 — multibulk
// arrays of bulk strings (what redis-cli and client libraries send) and
// inline commands (a line of words, what a person types into nc).
//
// Bytes go in with Feed() in any chunking, down to one byte at a time;
// complete commands come out of Next(). Every length is checked against the
// limits before anything is allocated for it, and the parser never holds
// more than one partial command plus what the client actually sent. Errors
// are framing errors: the connection cannot be resynchronised and must be
// closed after replying. Used by one connection on its owning thread; also
// the libFuzzer target's entry point.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gossipkv {

struct RespLimits {
  uint32_t max_bulk_bytes = 16 * 1024 * 1024;  // one argument
  uint32_t max_arguments = 64 * 1024;
  uint32_t max_request_bytes =
      64 * 1024 * 1024;  // all arguments of one command
  uint32_t max_inline_bytes = 64 * 1024;
  // Named in the errors after the limit (" before AUTH").
  const char* when = "";
};

class RespParser {
 public:
  enum class Outcome {
    kCommand,   // `args` holds one complete command
    kNeedMore,  // feed more bytes
    kError,     // framing error: reply `error` and close the connection
  };

  explicit RespParser(const RespLimits& limits) : limits_(limits) {}

  // New limits for the commands not yet parsed (a client that has just
  // authenticated gets the full ones).
  void set_limits(const RespLimits& limits) { limits_ = limits; }

  void Feed(std::string_view bytes);
  Outcome Next(std::vector<std::string>& args, std::string& error);

  // Bytes received but not yet consumed into a command.
  size_t buffered_bytes() const { return buffer_.size() - pos_; }
  // What the parser holds for the client: unconsumed bytes plus the
  // arguments of the partial command.
  size_t held_bytes() const { return buffered_bytes() + partial_bytes_; }

 private:
  enum class State { kIdle, kBulkHeader, kBulkData };

  Outcome ParseInline(std::vector<std::string>& args, std::string& error);
  Outcome ParseMultibulk(std::vector<std::string>& args, std::string& error);
  // Finds "\r\n" (or "\n") from pos_; npos when absent.
  size_t FindLineEnd() const;
  Outcome Fail(std::string& error, std::string message);
  void Compact();

  RespLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;
  State state_ = State::kIdle;
  int64_t args_expected_ = 0;
  int64_t bulk_remaining_ =
      0;  // bytes of the current bulk still to read (+2 for CRLF)
  uint64_t request_bytes_ = 0;
  std::vector<std::string> partial_;
  size_t partial_bytes_ = 0;  // sum of partial_'s sizes
  bool failed_ = false;
};

// Splits an inline command line into words: whitespace-separated, with
// "double quotes" (escapes \n \r \t \\ \" \xHH) and 'single quotes', as
// redis-cli does. False on unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>& args);

}  // namespace gossipkv
