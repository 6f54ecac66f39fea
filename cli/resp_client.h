// RespClient: a blocking RESP2 client over one TCP connection, for the
// gossipkv CLI and for tests. Sends commands as multibulk arrays and reads
// back one reply value per command. Not thread-safe; one caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gossipkv {

struct RespValue {
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray };
  Type type = Type::kNull;
  std::string text;  // simple, error, bulk
  int64_t integer = 0;
  std::vector<RespValue> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_null() const { return type == Type::kNull; }
  // Compact rendering for messages: "OK", "(nil)", "(error) ERR ...", "[a, b]".
  std::string ToString() const;
};

class RespClient {
 public:
  // Connects with a timeout; "connection refused" is an IOError whose message
  // names the address.
  static Result<std::unique_ptr<RespClient>> Connect(
      const std::string& host, uint16_t port,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RespClient();

  // Sends one command and waits for its reply (an error reply is a value,
  // not a failed Result; the Result fails on I/O or protocol trouble).
  Result<RespValue> Call(const std::vector<std::string>& args);
  // AUTH [user] password; the server's error if it refuses.
  Status Authenticate(const std::string& user, const std::string& password);
  // Pipelining: send now, read later, in order.
  Status Send(const std::vector<std::string>& args);
  Status SendRaw(std::string_view bytes);
  Result<RespValue> Read();

 private:
  struct Impl;
  explicit RespClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses one reply value from `bytes` starting at `pos`; advances `pos`.
// kNeedMore when incomplete. Exposed for tests.
enum class ReplyParse { kValue, kNeedMore, kError };
ReplyParse ParseReply(std::string_view bytes, size_t& pos, RespValue& out);

}  // namespace gossipkv
