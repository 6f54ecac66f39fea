// Peer framing: a u32 big-endian length, then that many bytes of one
// protobuf PeerMessage. FrameReader decodes an incoming byte stream in any
// chunking, checks each length against the frame cap before buffering
// anything for it, and rejects bodies that do not parse or carry no known
// message. Pure (no sockets): the peer transport and the frame fuzz target
// both use it. One connection, one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/peer.pb.h"

namespace gossipkv {

inline constexpr uint32_t kPeerProtocolVersion = 1;

std::string EncodeFrame(const pb::PeerMessage& message);

class FrameReader {
 public:
  enum class Outcome { kMessage, kNeedMore, kError };

  explicit FrameReader(uint32_t max_frame_bytes)
      : max_frame_bytes_(max_frame_bytes) {}

  void Feed(std::string_view bytes);
  // On kError the connection must be closed; `error` says why.
  Outcome Next(pb::PeerMessage& message, std::string& error);
  size_t buffered_bytes() const { return buffer_.size() - pos_; }

 private:
  uint32_t max_frame_bytes_;
  std::string buffer_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace gossipkv
