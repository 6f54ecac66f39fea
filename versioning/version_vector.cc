// VersionVector over a sorted vector: small (one item per node that ever
// coordinated a write to the key), so binary search and linear merges beat
// any map.
#include "versioning/version_vector.h"

#include <fmt/format.h>

#include <algorithm>

namespace gossipkv {

std::string Actor::ToString() const {
  return fmt::format("{}@{:x}", node, epoch);
}

std::string Dot::ToString() const {
  return fmt::format("{}:{}", actor.ToString(), counter);
}

VersionVector VersionVector::FromItems(std::vector<Item> items) {
  VersionVector vv;
  for (auto& [actor, counter] : items) {
    if (counter > vv.Get(actor)) vv.Set(actor, counter);
  }
  return vv;
}

uint64_t VersionVector::Get(const Actor& actor) const {
  auto it = std::lower_bound(
      items_.begin(), items_.end(), actor,
      [](const Item& item, const Actor& a) { return item.first < a; });
  return it != items_.end() && it->first == actor ? it->second : 0;
}

void VersionVector::Set(const Actor& actor, uint64_t counter) {
  auto it = std::lower_bound(
      items_.begin(), items_.end(), actor,
      [](const Item& item, const Actor& a) { return item.first < a; });
  bool present = it != items_.end() && it->first == actor;
  if (counter == 0) {
    if (present) items_.erase(it);
  } else if (present) {
    it->second = counter;
  } else {
    items_.insert(it, {actor, counter});
  }
}

bool VersionVector::Descends(const VersionVector& other) const {
  for (const auto& [actor, counter] : other.items_) {
    if (Get(actor) < counter) return false;
  }
  return true;
}

void VersionVector::Join(const VersionVector& other) {
  std::vector<Item> joined;
  joined.reserve(items_.size() + other.items_.size());
  auto a = items_.cbegin();
  auto b = other.items_.cbegin();
  while (a != items_.end() || b != other.items_.end()) {
    if (b == other.items_.end() || (a != items_.end() && a->first < b->first)) {
      joined.push_back(*a++);
    } else if (a == items_.end() || b->first < a->first) {
      joined.push_back(*b++);
    } else {
      joined.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  items_ = std::move(joined);
}

std::string VersionVector::ToString() const {
  std::string out = "{";
  for (const auto& [actor, counter] : items_) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}:{}", actor.ToString(), counter);
  }
  return out + "}";
}

}  // namespace gossipkv
