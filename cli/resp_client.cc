// RespClient over a blocking Asio socket, with a receive timeout so a hung
// server cannot hang the CLI.
#include "cli/resp_client.h"

#include <fmt/format.h>

#include <asio.hpp>
#include <charconv>

#include "util/bytes.h"

namespace gossipkv {

using asio::ip::tcp;

std::string RespValue::ToString() const {
  switch (type) {
    case Type::kSimple:
      return text;
    case Type::kError:
      return "(error) " + text;
    case Type::kInteger:
      return fmt::format("(integer) {}", integer);
    case Type::kBulk:
      return EscapeForDisplay(text, 256);
    case Type::kNull:
      return "(nil)";
    case Type::kArray: {
      std::string out = "[";
      for (const auto& e : elements) {
        if (out.size() > 1) out += ", ";
        out += e.ToString();
      }
      return out + "]";
    }
  }
  return "";
}

namespace {
bool ReadLine(std::string_view bytes, size_t& pos, std::string_view& line) {
  size_t end = bytes.find("\r\n", pos);
  if (end == std::string_view::npos) return false;
  line = bytes.substr(pos, end - pos);
  pos = end + 2;
  return true;
}

bool ToInt(std::string_view s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

ReplyParse ParseReply(std::string_view bytes, size_t& pos, RespValue& out) {
  size_t p = pos;
  if (p >= bytes.size()) return ReplyParse::kNeedMore;
  char type = bytes[p++];
  std::string_view line;
  if (!ReadLine(bytes, p, line)) return ReplyParse::kNeedMore;
  out = RespValue();
  switch (type) {
    case '+':
      out.type = RespValue::Type::kSimple;
      out.text = line;
      break;
    case '-':
      out.type = RespValue::Type::kError;
      out.text = line;
      break;
    case ':':
      out.type = RespValue::Type::kInteger;
      if (!ToInt(line, out.integer)) return ReplyParse::kError;
      break;
    case '$': {
      int64_t len = 0;
      if (!ToInt(line, len) || len < -1) return ReplyParse::kError;
      if (len == -1) break;  // null
      if (bytes.size() - p < static_cast<size_t>(len) + 2)
        return ReplyParse::kNeedMore;
      out.type = RespValue::Type::kBulk;
      out.text = bytes.substr(p, static_cast<size_t>(len));
      p += static_cast<size_t>(len) + 2;
      break;
    }
    case '*': {
      int64_t count = 0;
      if (!ToInt(line, count) || count < -1) return ReplyParse::kError;
      if (count == -1) break;
      out.type = RespValue::Type::kArray;
      for (int64_t i = 0; i < count; ++i) {
        RespValue element;
        ReplyParse r = ParseReply(bytes, p, element);
        if (r != ReplyParse::kValue) return r;
        out.elements.push_back(std::move(element));
      }
      break;
    }
    default:
      return ReplyParse::kError;
  }
  pos = p;
  return ReplyParse::kValue;
}

struct RespClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::string inbox;
  size_t consumed = 0;
};

RespClient::RespClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RespClient::~RespClient() = default;

Result<std::unique_ptr<RespClient>> RespClient::Connect(
    const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  asio::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot resolve {}: {}", host, ec.message()));
  asio::async_connect(
      impl->socket, endpoints,
      [&](const asio::error_code& e, const tcp::endpoint&) { ec = e; });
  impl->io.run_for(timeout);
  if (!impl->io.stopped()) {
    return Status::IOError(
        fmt::format("cannot connect to {}:{}: timed out", host, port));
  }
  if (ec)
    return Status::IOError(
        fmt::format("cannot connect to {}:{}: {}", host, port, ec.message()));
  impl->socket.set_option(tcp::no_delay(true), ec);
  // Blocking reads below honour SO_RCVTIMEO.
  struct timeval tv {
    static_cast<time_t>(timeout.count() / 1000),
        static_cast<suseconds_t>((timeout.count() % 1000) * 1000)
  };
  setsockopt(impl->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
             sizeof tv);
  return std::unique_ptr<RespClient>(new RespClient(std::move(impl)));
}

Status RespClient::SendRaw(std::string_view bytes) {
  asio::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return Status::IOError("send failed: " + ec.message());
  return Status::Ok();
}

Status RespClient::Send(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const auto& a : args) {
    out += fmt::format("${}\r\n", a.size());
    out += a;
    out += "\r\n";
  }
  return SendRaw(out);
}

Result<RespValue> RespClient::Read() {
  while (true) {
    RespValue value;
    size_t pos = impl_->consumed;
    ReplyParse r = ParseReply(impl_->inbox, pos, value);
    if (r == ReplyParse::kValue) {
      impl_->consumed = pos;
      if (impl_->consumed == impl_->inbox.size()) {
        impl_->inbox.clear();
        impl_->consumed = 0;
      }
      return value;
    }
    if (r == ReplyParse::kError)
      return Status::Corruption("malformed reply from server");
    char buf[65536];
    asio::error_code ec;
    size_t n = impl_->socket.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::eof)
      return Status::IOError("server closed the connection");
    if (ec) return Status::IOError("receive failed: " + ec.message());
    impl_->inbox.append(buf, n);
  }
}

Result<RespValue> RespClient::Call(const std::vector<std::string>& args) {
  GOSSIPKV_RETURN_IF_ERROR(Send(args));
  return Read();
}

Status RespClient::Authenticate(const std::string& user,
                                const std::string& password) {
  std::vector<std::string> auth{"AUTH"};
  if (!user.empty()) auth.push_back(user);
  auth.push_back(password);
  auto reply = Call(auth);
  if (!reply) return reply.error();
  if (reply->is_error()) return Status::InvalidArgument(reply->text);
  return Status::Ok();
}

}  // namespace gossipkv
