// RESP2 encoders. Integers are formatted with std::to_chars into a stack
// buffer: these run once or more per request.
#include "server/resp_writer.h"

#include <charconv>

namespace gossipkv::resp {
namespace {

void AppendPrefixed(std::string& out, char prefix, int64_t value) {
  char buf[24];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, value);
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, end);
}

}  // namespace

void AppendSimple(std::string& out, std::string_view text) {
  out.push_back('+');
  out.append(text);
  out.append("\r\n");
}

void AppendError(std::string& out, std::string_view text) {
  out.push_back('-');
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out.append("\r\n");
}

void AppendInteger(std::string& out, int64_t value) {
  AppendPrefixed(out, ':', value);
}

void AppendBulk(std::string& out, std::string_view bytes) {
  AppendPrefixed(out, '$', static_cast<int64_t>(bytes.size()));
  out.append(bytes);
  out.append("\r\n");
}

void AppendNull(std::string& out) { out.append("$-1\r\n"); }
void AppendNullArray(std::string& out) { out.append("*-1\r\n"); }

void AppendArrayHeader(std::string& out, size_t count) {
  AppendPrefixed(out, '*', static_cast<int64_t>(count));
}

}  // namespace gossipkv::resp
