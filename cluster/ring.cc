// Ring construction: rendezvous scores, taken best first under a load cap.
#include "cluster/ring.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "util/hash.h"

namespace gossipkv {

Ring::Ring(std::vector<std::string> members, RingOptions options)
    : options_(options) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() > UINT16_MAX) members.resize(UINT16_MAX);
  members_ = std::move(members);
  // The algorithm's version, every option, then each id with its length
  // (so no two member lists read alike).
  std::string identity =
      fmt::format("ring1|{}|{}|{}", options_.replication_factor,
                  options_.partition_bits, options_.max_load_factor);
  for (const auto& id : members_) {
    member_hashes_.push_back(Hash64(id));
    identity += fmt::format("|{}:{}", id.size(), id);
  }
  fingerprint_ = Hash64(identity);

  const size_t m = members_.size();
  const uint32_t q = partition_count();
  replicas_ =
      static_cast<uint32_t>(std::min<size_t>(options_.replication_factor, m));
  loads_.assign(m, 0);
  owners_.assign(static_cast<size_t>(q) * replicas_, 0);
  if (m == 0) return;

  // Each partition's members, best score first.
  std::vector<uint16_t> ranking(static_cast<size_t>(q) * m);
  std::vector<uint64_t> scores(m);
  for (uint32_t p = 0; p < q; ++p) {
    for (size_t i = 0; i < m; ++i) scores[i] = Score(p, i);
    uint16_t* order = ranking.data() + static_cast<size_t>(p) * m;
    std::iota(order, order + m, uint16_t{0});
    std::sort(order, order + m, [&](uint16_t a, uint16_t b) {
      return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
    });
  }

  const double mean = static_cast<double>(q) * replicas_ / m;
  const uint32_t cap =
      std::max(static_cast<uint32_t>(std::ceil(mean)),
               static_cast<uint32_t>(std::min(mean * options_.max_load_factor,
                                              static_cast<double>(q))));
  // Every partition's next candidate in one heap: popping the best is
  // taking the pairs in score order, skipping partitions already full.
  std::vector<uint32_t> next(q, 0);
  std::vector<uint32_t> taken(q, 0);
  using Candidate = std::pair<uint64_t, uint32_t>;  // score, partition
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(
      worse);
  for (uint32_t p = 0; p < q; ++p)
    heap.emplace(Score(p, ranking[static_cast<size_t>(p) * m]), p);
  while (!heap.empty()) {
    const uint32_t p = heap.top().second;
    heap.pop();
    const uint16_t member = ranking[static_cast<size_t>(p) * m + next[p]++];
    if (loads_[member] < cap) {
      owners_[static_cast<size_t>(p) * replicas_ + taken[p]++] = member;
      ++loads_[member];
    }
    if (taken[p] < replicas_ && next[p] < m) {
      heap.emplace(Score(p, ranking[static_cast<size_t>(p) * m + next[p]]), p);
    }
  }
  // A partition every member with room had already taken: its best
  // members not yet owners, over the cap (rare: the caps leave slack).
  for (uint32_t p = 0; p < q; ++p) {
    uint16_t* own = owners_.data() + static_cast<size_t>(p) * replicas_;
    for (size_t r = 0; taken[p] < replicas_ && r < m; ++r) {
      const uint16_t member = ranking[static_cast<size_t>(p) * m + r];
      if (std::find(own, own + taken[p], member) != own + taken[p]) continue;
      own[taken[p]++] = member;
      ++loads_[member];
    }
    std::sort(own, own + replicas_, [&](uint16_t a, uint16_t b) {
      const uint64_t sa = Score(p, a), sb = Score(p, b);
      return sa != sb ? sa > sb : a < b;
    });
  }
}

uint64_t Ring::Score(uint32_t partition, size_t member) const {
  return Hash64(partition, member_hashes_[member]);
}

uint32_t Ring::PartitionOfKey(std::string_view key) const {
  return PartitionOfHash(Hash64(key));
}

std::vector<std::string> Ring::OwnerIds(uint32_t partition) const {
  std::vector<std::string> ids;
  for (uint16_t i : Owners(partition)) ids.push_back(members_[i]);
  return ids;
}

std::vector<std::string> Ring::PreferenceList(uint32_t partition) const {
  std::vector<std::string> ids = OwnerIds(partition);
  std::vector<size_t> rest;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!Owns(static_cast<int>(i), partition)) rest.push_back(i);
  }
  std::sort(rest.begin(), rest.end(), [&](size_t a, size_t b) {
    const uint64_t sa = Score(partition, a), sb = Score(partition, b);
    return sa != sb ? sa > sb : a < b;
  });
  for (size_t i : rest) ids.push_back(members_[i]);
  return ids;
}

int Ring::IndexOf(std::string_view id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id);
  if (it == members_.end() || *it != id) return -1;
  return static_cast<int>(it - members_.begin());
}

bool Ring::Owns(int member, uint32_t partition) const {
  for (uint16_t i : Owners(partition)) {
    if (i == member) return true;
  }
  return false;
}

std::vector<uint32_t> Ring::PartitionsOf(int member) const {
  std::vector<uint32_t> partitions;
  for (uint32_t p = 0; p < partition_count(); ++p) {
    if (Owns(member, p)) partitions.push_back(p);
  }
  return partitions;
}

uint64_t Ring::Moved(const Ring& before, const Ring& after) {
  uint64_t moved = 0;
  for (uint32_t p = 0; p < after.partition_count(); ++p) {
    for (uint16_t i : after.Owners(p)) {
      const int was = before.IndexOf(after.members_[i]);
      if (was < 0 || !before.Owns(was, p)) ++moved;
    }
  }
  return moved;
}

std::string PartitionRanges(const std::vector<uint32_t>& partitions) {
  std::string out;
  for (size_t i = 0; i < partitions.size();) {
    size_t j = i;
    while (j + 1 < partitions.size() && partitions[j + 1] == partitions[j] + 1)
      ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", partitions[i])
                  : fmt::format("{}-{}", partitions[i], partitions[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace gossipkv
