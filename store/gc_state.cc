// GcState: three records in the meta column family.
#include "store/gc_state.h"

#include <fmt/format.h>

#include <optional>

#include "util/bytes.h"

namespace gossipkv {
namespace {

constexpr std::string_view kDotFloorKey = "gc_floor";
constexpr std::string_view kTimestampFloorKey = "gc_timestamp_floor";
constexpr std::string_view kMembersKey = "gc_members";

Status Malformed(std::string_view key, std::string_view why) {
  return Status::Corruption(
      fmt::format("{} in the meta column is {}", key, why));
}

Result<std::optional<uint64_t>> LoadFloor(Engine& engine,
                                          std::string_view key) {
  auto stored = engine.Get(Column::kMeta, key);
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::optional<uint64_t>();
  if ((*stored)->size() != 8) return Malformed(key, "not 8 bytes");
  return std::optional(ReadBigEndian64(**stored));
}

std::string EncodeFloor(uint64_t floor) {
  std::string bytes;
  AppendBigEndian64(bytes, floor);
  return bytes;
}

}  // namespace

Result<GcState> GcState::Load(Engine& engine) {
  GcState state;
  auto dots = LoadFloor(engine, kDotFloorKey);
  if (!dots) return dots.error();
  state.dot_floor = dots->value_or(0);
  auto timestamp = LoadFloor(engine, kTimestampFloorKey);
  if (!timestamp) return timestamp.error();
  state.timestamp_floor = static_cast<int64_t>(timestamp->value_or(0));
  auto members = engine.Get(Column::kMeta, kMembersKey);
  if (!members) return members.error();
  const std::string bytes = members->value_or(std::string());
  std::string_view rest = bytes;
  while (!rest.empty()) {
    if (rest.size() < 4) return Malformed(kMembersKey, "truncated");
    const uint32_t size = ReadBigEndian32(rest);
    if (rest.size() - 4 < size) return Malformed(kMembersKey, "truncated");
    state.members.emplace(rest.substr(4, size));
    rest.remove_prefix(4 + size);
  }
  return state;
}

void GcState::StageChanges(const GcState& next, WriteBatch& batch) const {
  if (next.dot_floor != dot_floor)
    batch.Put(Column::kMeta, kDotFloorKey, EncodeFloor(next.dot_floor));
  if (next.timestamp_floor != timestamp_floor) {
    batch.Put(Column::kMeta, kTimestampFloorKey,
              EncodeFloor(static_cast<uint64_t>(next.timestamp_floor)));
  }
  if (next.members != members) {
    std::string bytes;
    for (const auto& id : next.members) {
      AppendBigEndian32(bytes, static_cast<uint32_t>(id.size()));
      bytes += id;
    }
    batch.Put(Column::kMeta, kMembersKey, bytes);
  }
}

}  // namespace gossipkv
