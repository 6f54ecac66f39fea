// Graves: in memory, FIFO by sequence, mirrored in the meta column family.
#include "store/graves.h"

#include <algorithm>

#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr std::string_view kPrefix = "grave:";

std::string GraveKey(std::string_view key) {
  std::string out(kPrefix);
  out.append(key);
  return out;
}

}  // namespace

Result<uint64_t> Graves::Load(Engine& engine, int64_t now_ms) {
  graves_.clear();
  order_.clear();
  uint64_t unreadable = 0;
  WriteBatch cleanup;
  GOSSIPKV_RETURN_IF_ERROR(engine.ScanPrefix(
      Column::kMeta, kPrefix, [&](std::string_view k, std::string_view v) {
        auto entry = v.size() > 8 ? DecodeEntry(v.substr(8))
                                  : Result<Entry>(Status::Corruption("short"));
        if (!entry) {
          ++unreadable;
          cleanup.Delete(Column::kMeta, k);
          return true;
        }
        const uint64_t seq = ReadBigEndian64(v);
        graves_[std::string(k.substr(kPrefix.size()))] =
            Grave{std::move(*entry), seq};
        order_.push_back({std::string(k.substr(kPrefix.size())), seq, now_ms});
        seq_ = std::max(seq_, seq);
        return true;
      }));
  std::sort(order_.begin(), order_.end(),
            [](const auto& a, const auto& b) { return a.seq < b.seq; });
  Evict(now_ms);
  for (const auto& key : evicted_) cleanup.Delete(Column::kMeta, GraveKey(key));
  evicted_.clear();
  if (!cleanup.empty()) GOSSIPKV_RETURN_IF_ERROR(engine.Write(cleanup));
  return unreadable;
}

const Entry* Graves::Find(std::string_view key) const {
  if (graves_.empty()) return nullptr;
  auto it = graves_.find(key);
  return it == graves_.end() ? nullptr : &it->second.entry;
}

void Graves::StageEvictions(WriteBatch& batch) {
  for (auto& key : evicted_) {
    batch.Delete(Column::kMeta, GraveKey(key));
    staged_evictions_.push_back(std::move(key));
  }
  evicted_.clear();
}

void Graves::StagePut(WriteBatch& batch, const std::string& key,
                      const Entry& entry) {
  const uint64_t seq = ++seq_;
  std::string value;
  AppendBigEndian64(value, seq);
  value += EncodeEntry(entry);
  batch.Put(Column::kMeta, GraveKey(key), value);
  staged_.push_back({key, entry, seq});
}

void Graves::StageRemove(WriteBatch& batch, const std::string& key) {
  if (!graves_.count(key)) return;
  batch.Delete(Column::kMeta, GraveKey(key));
  staged_.push_back({key, std::nullopt, 0});
}

void Graves::Commit(int64_t now_ms) {
  staged_evictions_.clear();
  for (auto& s : staged_) {
    if (s.entry) {
      Insert(std::move(s.key), std::move(*s.entry), s.seq, now_ms);
    } else {
      graves_.erase(s.key);
    }
  }
  staged_.clear();
  Evict(now_ms);
}

void Graves::Abort() {
  staged_.clear();
  // Still gone from memory: delete them with the next batch.
  for (auto& key : staged_evictions_) evicted_.push_back(std::move(key));
  staged_evictions_.clear();
}

void Graves::Insert(std::string key, Entry entry, uint64_t seq,
                    int64_t now_ms) {
  order_.push_back({key, seq, now_ms});
  graves_[std::move(key)] = Grave{std::move(entry), seq};
}

void Graves::Evict(int64_t now_ms) {
  while (graves_.size() > capacity_ && !order_.empty()) {
    auto it = graves_.find(order_.front().key);
    const bool current =
        it != graves_.end() && it->second.seq == order_.front().seq;
    // The oldest grave is still young: so are all the others. (Capacity 0
    // turns graves off.)
    const bool young = now_ms - order_.front().at_ms < min_age_ms_;
    if (current && capacity_ > 0 && young) break;
    std::string oldest = std::move(order_.front().key);
    order_.pop_front();
    if (current) {
      graves_.erase(it);
      evicted_.push_back(std::move(oldest));
    }
  }
  // Keys removed or replaced leave stale names behind: drop them now and
  // then, so the queue stays proportional to the graves.
  if (order_.size() > 2 * graves_.size() + 1024) {
    std::erase_if(order_, [&](const Written& written) {
      auto it = graves_.find(written.key);
      return it == graves_.end() || it->second.seq != written.seq;
    });
  }
}

}  // namespace gossipkv
