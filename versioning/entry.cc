// Dotted-version-vector write and merge. Both walk sorted sibling lists, so
// merging entries of s siblings costs O(s log a) for a actors.
#include "versioning/entry.h"

#include <algorithm>

namespace gossipkv {
namespace {

bool WinsOver(const Sibling& a, const Sibling& b) {
  if (a.timestamp_ms != b.timestamp_ms) return a.timestamp_ms > b.timestamp_ms;
  return a.dot > b.dot;
}

}  // namespace

const Sibling* Entry::Winner() const {
  const Sibling* best = nullptr;
  for (const auto& s : siblings) {
    if (best == nullptr || WinsOver(s, *best)) best = &s;
  }
  return best;
}

bool Entry::IsDeleted() const {
  const Sibling* w = Winner();
  return w == nullptr || w->tombstone;
}

bool Entry::AllTombstones() const {
  return std::all_of(siblings.begin(), siblings.end(),
                     [](const Sibling& s) { return s.tombstone; });
}

std::string Entry::ToString() const {
  std::string out = clock.ToString() + " [";
  for (const auto& s : siblings) {
    if (out.back() != '[') out += ", ";
    out += s.dot.ToString() + "@" + std::to_string(s.timestamp_ms) + "=" +
           (s.tombstone ? "<tombstone>" : s.value);
  }
  return out + "]";
}

void ApplyWrite(Entry& entry, const Actor& self, const VersionVector& context,
                std::optional<std::string_view> value, int64_t timestamp_ms,
                ConflictMode mode) {
  const uint64_t counter = entry.clock.Get(self) + 1;
  if (mode == ConflictMode::kLastWriteWins) {
    // A register ordered by (timestamp, dot): the new write must beat the
    // value it replaces even if this node's clock lags the writer's before.
    if (const Sibling* w = entry.Winner())
      timestamp_ms = std::max(timestamp_ms, w->timestamp_ms + 1);
    entry.siblings.clear();
  } else {
    std::erase_if(entry.siblings,
                  [&](const Sibling& s) { return context.Covers(s.dot); });
  }
  Sibling written{Dot{self, counter}, timestamp_ms, !value.has_value(),
                  value ? std::string(*value) : std::string()};
  auto pos = std::lower_bound(
      entry.siblings.begin(), entry.siblings.end(), written.dot,
      [](const Sibling& s, const Dot& d) { return s.dot < d; });
  entry.siblings.insert(pos, std::move(written));
  entry.clock.Join(context);
  entry.clock.Set(self, counter);
}

Entry Merge(const Entry& a, const Entry& b, ConflictMode mode) {
  Entry merged;
  if (mode == ConflictMode::kLastWriteWins) {
    // The maximum of the union, not "survivors, then the winner": discarding
    // losers first and then applying causal coverage is not associative.
    const Sibling* wa = a.Winner();
    const Sibling* wb = b.Winner();
    const Sibling* w =
        (wb == nullptr || (wa != nullptr && !WinsOver(*wb, *wa))) ? wa : wb;
    if (w != nullptr) merged.siblings.push_back(*w);
    merged.clock = a.clock;
    merged.clock.Join(b.clock);
    return merged;
  }
  merged.siblings.reserve(a.siblings.size() + b.siblings.size());
  auto ia = a.siblings.begin(), ib = b.siblings.begin();
  // Both lists are sorted by dot: walk them together, emitting in order.
  while (ia != a.siblings.end() || ib != b.siblings.end()) {
    if (ib == b.siblings.end() ||
        (ia != a.siblings.end() && ia->dot < ib->dot)) {
      if (!b.clock.Covers(ia->dot)) merged.siblings.push_back(*ia);
      ++ia;
    } else if (ia == a.siblings.end() || ib->dot < ia->dot) {
      if (!a.clock.Covers(ib->dot)) merged.siblings.push_back(*ib);
      ++ib;
    } else {  // the same dot on both sides: the same write
      merged.siblings.push_back(*ia);
      ++ia;
      ++ib;
    }
  }
  merged.clock = a.clock;
  merged.clock.Join(b.clock);
  return merged;
}

}  // namespace gossipkv
