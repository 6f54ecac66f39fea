// Entry <-> protobuf. Encoding relies on Entry's own ordering invariants;
// decoding re-checks them, since stored or received bytes are untrusted.
#include "versioning/entry_codec.h"

#include "proto/entry.pb.h"
#include "util/bytes.h"
#include "util/hash.h"

namespace gossipkv {
namespace {

void FillClock(const VersionVector& vv,
               google::protobuf::RepeatedPtrField<pb::ClockEntry>* out) {
  out->Reserve(static_cast<int>(vv.items().size()));
  for (const auto& [actor, counter] : vv.items()) {
    auto* e = out->Add();
    e->set_node(actor.node);
    e->set_epoch(actor.epoch);
    e->set_counter(counter);
  }
}

Result<VersionVector> ReadClock(
    const google::protobuf::RepeatedPtrField<pb::ClockEntry>& in) {
  std::vector<VersionVector::Item> items;
  items.reserve(in.size());
  for (const auto& e : in) {
    Actor actor{e.node(), e.epoch()};
    if (e.counter() == 0)
      return Status::Corruption("clock entry with zero counter");
    if (!items.empty() && !(items.back().first < actor)) {
      return Status::Corruption("clock entries not strictly sorted");
    }
    items.emplace_back(std::move(actor), e.counter());
  }
  return VersionVector::FromItems(std::move(items));
}

}  // namespace

std::string EncodeEntry(const Entry& entry) {
  pb::Entry msg;
  FillClock(entry.clock, msg.mutable_clock());
  msg.mutable_siblings()->Reserve(static_cast<int>(entry.siblings.size()));
  for (const auto& s : entry.siblings) {
    auto* out = msg.add_siblings();
    out->set_node(s.dot.actor.node);
    out->set_epoch(s.dot.actor.epoch);
    out->set_counter(s.dot.counter);
    out->set_timestamp_ms(s.timestamp_ms);
    out->set_tombstone(s.tombstone);
    if (!s.tombstone) out->set_value(s.value);
  }
  std::string bytes;
  msg.SerializeToString(&bytes);
  return bytes;
}

Result<Entry> DecodeEntry(std::string_view bytes) {
  pb::Entry msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("entry bytes do not parse");
  }
  auto clock = ReadClock(msg.clock());
  if (!clock) return clock.error();
  Entry entry;
  entry.clock = std::move(*clock);
  entry.siblings.reserve(msg.siblings_size());
  for (auto& s : *msg.mutable_siblings()) {
    Sibling sibling{
        Dot{Actor{std::move(*s.mutable_node()), s.epoch()}, s.counter()},
        s.timestamp_ms(), s.tombstone(), std::move(*s.mutable_value())};
    if (sibling.dot.counter == 0)
      return Status::Corruption("sibling with zero counter");
    if (sibling.tombstone && !sibling.value.empty()) {
      return Status::Corruption("tombstone sibling carries a value");
    }
    if (!entry.clock.Covers(sibling.dot)) {
      return Status::Corruption("sibling " + sibling.dot.ToString() +
                                " not covered by clock");
    }
    if (!entry.siblings.empty() && !(entry.siblings.back().dot < sibling.dot)) {
      return Status::Corruption("siblings not strictly sorted");
    }
    entry.siblings.push_back(std::move(sibling));
  }
  if (entry.siblings.empty())
    return Status::Corruption("entry has no siblings");
  return entry;
}

uint64_t EntryHash(std::string_view key, std::string_view encoded_entry) {
  return Hash64(key, encoded_entry);
}

std::string EncodeContext(std::string_view key, const VersionVector& context) {
  pb::WriteContext msg;
  FillClock(context, msg.mutable_entries());
  msg.set_key_hash(Hash64(key));
  std::string bytes;
  msg.SerializeToString(&bytes);
  return Base64UrlEncode(bytes);
}

Result<VersionVector> DecodeContext(std::string_view key,
                                    std::string_view token) {
  std::string bytes;
  pb::WriteContext msg;
  if (!Base64UrlDecode(token, bytes) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("malformed context token");
  }
  if (!msg.has_key_hash()) {
    return Status::InvalidArgument(
        "context token carries no key: an older format");
  }
  if (msg.key_hash() != Hash64(key))
    return Status::InvalidArgument("context token was read from another key");
  auto clock = ReadClock(msg.entries());
  if (!clock)
    return Status::InvalidArgument("malformed context token: " +
                                   clock.error().message());
  return clock;
}

}  // namespace gossipkv
