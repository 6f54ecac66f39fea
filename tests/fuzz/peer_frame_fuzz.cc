// libFuzzer target for peer frame decoding: the first byte picks a chunk
// size, the rest is the byte stream a peer would send. Checks that decoding
// never crashes, never yields a message without a known type, and never
// buffers much more than it was fed. Built like resp_parser_fuzz.cc.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/peer_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gossipkv::FrameReader;
  // Malformed UTF-8 in string fields is expected here, and logged by
  // protobuf at every parse: keep the fuzzer's output readable.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  FrameReader reader(4096);
  gossipkv::pb::PeerMessage message;
  std::string error;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    reader.Feed(input.substr(pos, chunk));
    while (true) {
      FrameReader::Outcome o = reader.Next(message, error);
      if (o == FrameReader::Outcome::kNeedMore) break;
      if (o == FrameReader::Outcome::kError) {
        if (error.empty()) abort();
        return 0;
      }
      if (message.body_case() == gossipkv::pb::PeerMessage::BODY_NOT_SET)
        abort();
      // Re-encoding a decoded message must decode again.
      std::string again = gossipkv::EncodeFrame(message);
      FrameReader check(1 << 20);
      check.Feed(again);
      gossipkv::pb::PeerMessage copy;
      if (check.Next(copy, error) != FrameReader::Outcome::kMessage) abort();
    }
    if (reader.buffered_bytes() > input.size() + 1) abort();
  }
  return 0;
}
