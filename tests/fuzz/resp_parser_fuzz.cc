// libFuzzer target for the client protocol parser. The first input byte
// picks a chunk size so the same bytes are also fed in pieces; the rest is
// the byte stream a client would send. Checks that the parser never crashes,
// never yields an argument or command over the limits, and never buffers
// much more than it was fed.
//
// Built with -fsanitize=fuzzer when the compiler is clang (the `fuzz`
// preset); otherwise linked with replay_main.cc so ctest replays the seed
// corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/resp_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gossipkv::RespParser;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  gossipkv::RespLimits limits;
  limits.max_bulk_bytes = 512;
  limits.max_arguments = 16;
  limits.max_request_bytes = 1024;
  limits.max_inline_bytes = 256;
  RespParser parser(limits);
  std::vector<std::string> args;
  std::string error;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    parser.Feed(input.substr(pos, chunk));
    while (true) {
      RespParser::Outcome o = parser.Next(args, error);
      if (o == RespParser::Outcome::kNeedMore) break;
      if (o == RespParser::Outcome::kError) {
        if (error.empty()) abort();  // an error must say what went wrong
        return 0;
      }
      if (args.empty() || args.size() > limits.max_arguments) abort();
      size_t total = 0;
      for (const auto& a : args) total += a.size();
      if (total > limits.max_request_bytes && args.size() > 1) abort();
    }
    if (parser.buffered_bytes() > input.size() + 1) abort();
  }
  return 0;
}
