// Status and Result<T>: how every gossipkv module reports failure.
//
// No exceptions cross a module boundary. A function that can fail returns a
// Status (success or a code plus message) or a Result<T> (a value or a
// Status). Result is shaped like C++23 std::expected so that moving to it is
// mechanical. Codes are few; add one only when a caller reacts to it
// differently (FoundationDB's rule). Any thread may use these types.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gossipkv {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kNotFound,         // the thing asked for does not exist
    kCorruption,       // stored or received bytes do not decode
    kInvalidArgument,  // the caller's input is wrong; retrying will not help
    kIOError,          // the disk or the network failed; may succeed later
    kLimitExceeded,    // a configured bound was hit
    kUnavailable,      // too few replicas answered in time
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) {
    return {Code::kNotFound, std::move(msg)};
  }
  static Status Corruption(std::string msg) {
    return {Code::kCorruption, std::move(msg)};
  }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status IOError(std::string msg) {
    return {Code::kIOError, std::move(msg)};
  }
  static Status LimitExceeded(std::string msg) {
    return {Code::kLimitExceeded, std::move(msg)};
  }
  static Status Unavailable(std::string msg) {
    return {Code::kUnavailable, std::move(msg)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsLimitExceeded() const { return code_ == Code::kLimitExceeded; }

  // "Corruption: entry for key 'k' ..." — for logs and error replies.
  std::string ToString() const;

 private:
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// A value of type T or an error Status. Never holds an ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(state_).ok());
  }

  bool has_value() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Status& error() const { return std::get<Status>(state_); }
  // The error, or Ok when a value is held: handy for propagating.
  Status status() const { return has_value() ? Status::Ok() : error(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace gossipkv

// Propagates a failed Status from an expression that yields a Status.
#define GOSSIPKV_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::gossipkv::Status gossipkv_status_ = (expr);        \
    if (!gossipkv_status_.ok()) return gossipkv_status_; \
  } while (0)
