// The store's record format: encode the flags byte, decode with errors
// naming the key.
#include "store/store_record.h"

#include <fmt/format.h>

#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv::store_record {

std::string RecordValue(const Entry& entry, std::string_view encoded) {
  std::string out;
  out.reserve(1 + encoded.size());
  out.push_back(entry.IsDeleted() ? kFlagDeleted : 0);
  out.append(encoded);
  return out;
}

Status KeyCorruption(std::string_view key, const Status& cause) {
  return Status::Corruption(fmt::format(
      "entry for key '{}': {}", EscapeForDisplay(key), cause.message()));
}

Result<Decoded> DecodeRecord(std::string_view key, std::string_view record) {
  if (record.empty())
    return KeyCorruption(key, Status::Corruption("empty record"));
  auto entry = DecodeEntry(record.substr(1));
  if (!entry) return KeyCorruption(key, entry.error());
  return Decoded{std::move(*entry), EntryHash(key, record.substr(1))};
}

}  // namespace gossipkv::store_record
