// Actors, dots and version vectors: the causality vocabulary of gossipkv's
// dotted version vectors. Value types; any thread.
//
// An Actor is a node id plus the epoch of its data directory: a node that
// lost its data comes back as a new actor, so it never reissues a dot it may
// have issued before (the failure behind Riak's kv679 data loss).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gossipkv {

struct Actor {
  std::string node;
  uint64_t epoch = 0;

  auto operator<=>(const Actor&) const = default;
  bool operator==(const Actor&) const = default;
  std::string ToString() const;  // "n1@5f3a..." (epoch in hex)
};

// One write event: the `counter`-th write that `actor` coordinated for a key.
struct Dot {
  Actor actor;
  uint64_t counter = 0;

  auto operator<=>(const Dot&) const = default;
  bool operator==(const Dot&) const = default;
  std::string ToString() const;  // "n1@5f3a:7"
};

// Actor -> highest counter seen, kept sorted by actor with no zero counters,
// which makes equality structural and the encoding canonical.
class VersionVector {
 public:
  using Item = std::pair<Actor, uint64_t>;

  VersionVector() = default;
  // `items` in any order; later duplicates keep the highest counter.
  static VersionVector FromItems(std::vector<Item> items);

  uint64_t Get(const Actor& actor) const;
  void Set(const Actor& actor, uint64_t counter);  // counter 0 removes
  bool Covers(const Dot& dot) const { return Get(dot.actor) >= dot.counter; }
  // True when this vector is >= `other` for every actor.
  bool Descends(const VersionVector& other) const;
  // Pointwise maximum.
  void Join(const VersionVector& other);

  const std::vector<Item>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  bool operator==(const VersionVector&) const = default;
  std::string ToString() const;  // "{n1@..:3, n2@..:1}"

 private:
  std::vector<Item> items_;
};

}  // namespace gossipkv
