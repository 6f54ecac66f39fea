// Length-prefixed protobuf frames.
#include "server/peer_frame.h"

#include <fmt/format.h>

#include "util/bytes.h"

namespace gossipkv {

std::string EncodeFrame(const pb::PeerMessage& message) {
  std::string out;
  const size_t size = message.ByteSizeLong();
  out.reserve(4 + size);
  AppendBigEndian32(out, static_cast<uint32_t>(size));
  out.resize(4 + size);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out.data() + 4));
  return out;
}

void FrameReader::Feed(std::string_view bytes) {
  if (pos_ > 0 && (pos_ == buffer_.size() || pos_ > (1 << 20))) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

FrameReader::Outcome FrameReader::Next(pb::PeerMessage& message,
                                       std::string& error) {
  if (failed_) return Outcome::kError;
  if (buffered_bytes() < 4) return Outcome::kNeedMore;
  const uint32_t length =
      ReadBigEndian32(std::string_view(buffer_).substr(pos_));
  if (length > max_frame_bytes_) {
    failed_ = true;
    error = fmt::format("frame of {} bytes exceeds max_frame_bytes ({})",
                        length, max_frame_bytes_);
    return Outcome::kError;
  }
  if (buffered_bytes() < 4 + size_t{length}) return Outcome::kNeedMore;
  const char* body = buffer_.data() + pos_ + 4;
  pos_ += 4 + size_t{length};
  message.Clear();
  if (!message.ParseFromArray(body, static_cast<int>(length))) {
    failed_ = true;
    error = "frame does not parse as a PeerMessage";
    return Outcome::kError;
  }
  if (message.body_case() == pb::PeerMessage::BODY_NOT_SET) {
    failed_ = true;
    error = "frame carries no known message type";
    return Outcome::kError;
  }
  return Outcome::kMessage;
}

}  // namespace gossipkv
