// The store's record format, shared by VersionedStore and WriteSet only:
// a flags byte followed by the entry's canonical bytes, under the storage
// key Merkle segment (be32) ++ key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"
#include "versioning/entry.h"

namespace gossipkv::store_record {

inline constexpr size_t kSegmentPrefix = 4;
inline constexpr char kFlagDeleted = 1;  // the winner is a tombstone

// flags ++ canonical bytes of `entry` (`encoded`).
std::string RecordValue(const Entry& entry, std::string_view encoded);

// An error naming the key whose stored entry is damaged.
Status KeyCorruption(std::string_view key, const Status& cause);

// Decodes a stored record (flags ++ entry); the canonical bytes' hash too.
struct Decoded {
  Entry entry;
  uint64_t hash;
};
Result<Decoded> DecodeRecord(std::string_view key, std::string_view record);

}  // namespace gossipkv::store_record
