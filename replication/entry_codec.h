// Canonical byte encodings of entries and write contexts (proto/entry.proto).
//
// EncodeEntry is deterministic: the same logical entry yields the same bytes
// on every replica, so entry hashes can be compared across nodes. Decoding
// validates every invariant of Entry and reports violations as Corruption,
// so a damaged disk or a hostile peer yields an error, never a crash.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "replication/entry.h"
#include "util/status.h"

namespace gossipkv {

std::string EncodeEntry(const Entry& entry);
Result<Entry> DecodeEntry(std::string_view bytes);

// Digest of one key's entry: XXH3 of key ++ canonical entry bytes.
uint64_t EntryHash(std::string_view key, std::string_view encoded_entry);

// A write context as an opaque printable token (base64url of the clock), as
// handed to clients by VGET and taken back by VSET/VDEL.
std::string EncodeContext(const VersionVector& context);
Result<VersionVector> DecodeContext(std::string_view token);

}  // namespace gossipkv
