// Entry: the versioned value of one key — a version vector plus the mutually
// concurrent siblings that survive (dotted version vectors).
//
// Invariants kept by every function here: siblings are sorted by dot with no
// duplicates; every sibling's dot is covered by `clock`; no sibling is
// causally older than another write this entry knows of. Merge is
// commutative, associative and idempotent (tests/entry_property_test.cc).
// Value types and pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "versioning/conflict_mode.h"
#include "versioning/version_vector.h"

namespace gossipkv {

struct Sibling {
  Dot dot;
  int64_t timestamp_ms = 0;
  bool tombstone = false;
  std::string value;  // empty for tombstones

  bool operator==(const Sibling&) const = default;
};

struct Entry {
  VersionVector clock;
  std::vector<Sibling> siblings;

  bool operator==(const Entry&) const = default;

  // The sibling a plain GET returns: highest timestamp, ties by highest dot.
  // Null only for an entry with no siblings (never stored).
  const Sibling* Winner() const;
  // True when the winner is a tombstone: the key reads as absent.
  bool IsDeleted() const;
  bool AllTombstones() const;
  // "{clock} [dot@ts=value, ...]" for logs and test failures.
  std::string ToString() const;
};

// Lets GoogleTest print entries in failure messages.
inline void PrintTo(const Entry& entry, std::ostream* os) {
  *os << entry.ToString();
}

// A write coordinated by `self`, given the causal `context` the client read
// (for plain SET/DEL, the entry's own clock). `value` nullopt writes a
// tombstone. Siblings covered by the context are replaced; others stay.
void ApplyWrite(Entry& entry, const Actor& self, const VersionVector& context,
                std::optional<std::string_view> value, int64_t timestamp_ms,
                ConflictMode mode);

// The merge of a local and a remote entry. kSiblings: a sibling survives
// unless the other side's clock shows it was overwritten. kLastWriteWins: the
// highest (timestamp, dot) of both survives.
Entry Merge(const Entry& a, const Entry& b, ConflictMode mode);

}  // namespace gossipkv
