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

#include "util/status.h"
#include "versioning/entry.h"

namespace gossipkv {

std::string EncodeEntry(const Entry& entry);
Result<Entry> DecodeEntry(std::string_view bytes);

// Digest of one key's entry: XXH3 of key ++ canonical entry bytes.
uint64_t EntryHash(std::string_view key, std::string_view encoded_entry);

// A write context as an opaque printable token, as handed to clients by VGET
// and taken back by VSET/VDEL: base64url of the clock read from `key` and
// Hash64(key), so the token works only for the key it was read from.
std::string EncodeContext(std::string_view key, const VersionVector& context);
// The clock of a token read from `key`. InvalidArgument, saying which, when
// the token does not decode, carries no key hash (an older format), or was
// read from another key.
Result<VersionVector> DecodeContext(std::string_view key,
                                    std::string_view token);

}  // namespace gossipkv
