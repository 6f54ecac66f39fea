// RespParser: a small state machine over a byte buffer. A multibulk request
// is "*<n>\r\n" then n times "$<len>\r\n<bytes>\r\n"; anything else starting
// a request is an inline line. Bulk bytes are copied into the argument as
// they arrive, so a large value is never rescanned.
#include "server/resp_parser.h"

#include <fmt/format.h>

#include <charconv>

namespace gossipkv {
namespace {

// Parses a decimal integer that must fill `text` exactly.
bool ParseInt(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>& args) {
  args.clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size()) return true;
    std::string word;
    if (line[i] == '"') {
      ++i;
      while (true) {
        if (i == line.size()) return false;
        char c = line[i];
        if (c == '"') {
          ++i;
          break;
        }
        if (c == '\\' && i + 1 < line.size()) {
          char e = line[i + 1];
          if (e == 'x' && i + 3 < line.size() && HexValue(line[i + 2]) >= 0 &&
              HexValue(line[i + 3]) >= 0) {
            word.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 +
                                             HexValue(line[i + 3])));
            i += 4;
            continue;
          }
          switch (e) {
            case 'n':
              word.push_back('\n');
              break;
            case 'r':
              word.push_back('\r');
              break;
            case 't':
              word.push_back('\t');
              break;
            case 'b':
              word.push_back('\b');
              break;
            case 'a':
              word.push_back('\a');
              break;
            default:
              word.push_back(e);
          }
          i += 2;
          continue;
        }
        word.push_back(c);
        ++i;
      }
      // A closing quote must be followed by a space or the end.
      if (i < line.size() && !IsSpace(line[i])) return false;
    } else if (line[i] == '\'') {
      ++i;
      while (true) {
        if (i == line.size()) return false;
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
          continue;
        }
        if (line[i] == '\'') {
          ++i;
          break;
        }
        word.push_back(line[i++]);
      }
      if (i < line.size() && !IsSpace(line[i])) return false;
    } else {
      while (i < line.size() && !IsSpace(line[i])) word.push_back(line[i++]);
    }
    args.push_back(std::move(word));
  }
}

void RespParser::Feed(std::string_view bytes) {
  Compact();
  buffer_.append(bytes);
}

void RespParser::Compact() {
  if (pos_ > 0 && (pos_ == buffer_.size() || pos_ > 64 * 1024)) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

size_t RespParser::FindLineEnd() const {
  size_t nl = buffer_.find('\n', pos_);
  return nl;
}

RespParser::Outcome RespParser::Fail(std::string& error, std::string message) {
  failed_ = true;
  error = std::move(message);
  return Outcome::kError;
}

RespParser::Outcome RespParser::Next(std::vector<std::string>& args,
                                     std::string& error) {
  if (failed_) return Outcome::kError;
  while (true) {
    Outcome o;
    if (state_ == State::kIdle) {
      if (pos_ == buffer_.size()) return Outcome::kNeedMore;
      o = buffer_[pos_] == '*' ? ParseMultibulk(args, error)
                               : ParseInline(args, error);
    } else {
      o = ParseMultibulk(args, error);
    }
    // A blank line or "*0" is an empty request: ignored, like Redis does.
    // What follows it may be of either kind, so it starts over from here.
    if (o == Outcome::kCommand && args.empty()) continue;
    return o;
  }
}

RespParser::Outcome RespParser::ParseInline(std::vector<std::string>& args,
                                            std::string& error) {
  size_t nl = FindLineEnd();
  if (nl == std::string::npos) {
    if (buffer_.size() - pos_ > limits_.max_inline_bytes) {
      return Fail(
          error,
          fmt::format("Protocol error: too big inline request (max {} bytes)",
                      limits_.max_inline_bytes));
    }
    return Outcome::kNeedMore;
  }
  if (nl - pos_ > limits_.max_inline_bytes) {
    return Fail(
        error,
        fmt::format("Protocol error: too big inline request (max {} bytes)",
                    limits_.max_inline_bytes));
  }
  std::string_view line(buffer_.data() + pos_, nl - pos_);
  pos_ = nl + 1;
  if (!SplitInlineArgs(line, args)) {
    return Fail(error, "Protocol error: unbalanced quotes in request");
  }
  if (args.size() > limits_.max_arguments) {
    return Fail(error,
                fmt::format("Protocol error: too many arguments (max {})",
                            limits_.max_arguments));
  }
  return Outcome::kCommand;
}

RespParser::Outcome RespParser::ParseMultibulk(std::vector<std::string>& args,
                                               std::string& error) {
  while (true) {
    switch (state_) {
      case State::kIdle: {
        size_t nl = FindLineEnd();
        if (nl == std::string::npos) {
          if (buffer_.size() - pos_ > 32)
            return Fail(error, "Protocol error: invalid multibulk length");
          return Outcome::kNeedMore;
        }
        std::string_view text(buffer_.data() + pos_ + 1, nl - pos_ - 1);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        int64_t count = 0;
        if (!ParseInt(text, count) || count < 0) {
          return Fail(error, "Protocol error: invalid multibulk length");
        }
        if (count > static_cast<int64_t>(limits_.max_arguments)) {
          return Fail(
              error,
              fmt::format("Protocol error: too many arguments{} (max {})",
                          limits_.when, limits_.max_arguments));
        }
        pos_ = nl + 1;
        if (count == 0) {  // "*0": an empty request, which Next() skips
          args.clear();
          return Outcome::kCommand;
        }
        args_expected_ = count;
        request_bytes_ = 0;
        partial_.clear();
        partial_bytes_ = 0;
        partial_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
        state_ = State::kBulkHeader;
        break;
      }
      case State::kBulkHeader: {
        size_t nl = FindLineEnd();
        if (nl == std::string::npos) {
          if (buffer_.size() - pos_ > 32)
            return Fail(error, "Protocol error: invalid bulk length");
          return Outcome::kNeedMore;
        }
        if (buffer_[pos_] != '$') {
          return Fail(error,
                      fmt::format("Protocol error: expected '$', got '{}'",
                                  buffer_[pos_] >= 0x20 && buffer_[pos_] < 0x7f
                                      ? buffer_[pos_]
                                      : '?'));
        }
        std::string_view text(buffer_.data() + pos_ + 1, nl - pos_ - 1);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        int64_t len = 0;
        if (!ParseInt(text, len) || len < 0) {
          return Fail(error, "Protocol error: invalid bulk length");
        }
        if (len > static_cast<int64_t>(limits_.max_bulk_bytes)) {
          return Fail(error, fmt::format("argument too large{} (max {} bytes)",
                                         limits_.when, limits_.max_bulk_bytes));
        }
        request_bytes_ += static_cast<uint64_t>(len);
        if (request_bytes_ > limits_.max_request_bytes) {
          return Fail(error,
                      fmt::format("request too large{} (max {} bytes)",
                                  limits_.when, limits_.max_request_bytes));
        }
        pos_ = nl + 1;
        partial_.emplace_back();
        bulk_remaining_ = len + 2;
        state_ = State::kBulkData;
        break;
      }
      case State::kBulkData: {
        std::string& arg = partial_.back();
        const size_t available = buffer_.size() - pos_;
        if (bulk_remaining_ > 2) {
          size_t take = std::min<size_t>(
              available, static_cast<size_t>(bulk_remaining_ - 2));
          arg.append(buffer_, pos_, take);
          partial_bytes_ += take;
          pos_ += take;
          bulk_remaining_ -= static_cast<int64_t>(take);
          if (bulk_remaining_ > 2) return Outcome::kNeedMore;
        }
        if (buffer_.size() - pos_ < 2) return Outcome::kNeedMore;
        if (buffer_[pos_] != '\r' || buffer_[pos_ + 1] != '\n') {
          return Fail(error,
                      "Protocol error: bulk string not terminated by CRLF");
        }
        pos_ += 2;
        bulk_remaining_ = 0;
        if (static_cast<int64_t>(partial_.size()) < args_expected_) {
          state_ = State::kBulkHeader;
          break;
        }
        state_ = State::kIdle;
        args.swap(partial_);
        partial_.clear();
        partial_bytes_ = 0;
        return Outcome::kCommand;
      }
    }
  }
}

}  // namespace gossipkv
