// MemberRecord: four records in the meta column family.
#include "store/member_record.h"

#include <fmt/format.h>

#include "util/bytes.h"

namespace gossipkv {
namespace {

constexpr std::string_view kIncarnationKey = "incarnation";
constexpr std::string_view kForgottenKey = "forgotten";
constexpr std::string_view kFillKey = "fill";
constexpr std::string_view kMembersKey = "members";

// Takes one be32-length-prefixed string off `rest`; false if truncated.
bool TakeString(std::string_view& rest, std::string& out) {
  if (rest.size() < 4) return false;
  const uint32_t size = ReadBigEndian32(rest);
  if (rest.size() - 4 < size) return false;
  out.assign(rest.substr(4, size));
  rest.remove_prefix(4 + size);
  return true;
}

void AppendString(std::string& out, std::string_view s) {
  AppendBigEndian32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

Status Malformed(std::string_view key, std::string_view why) {
  return Status::Corruption(
      fmt::format("{} in the meta column is {}", key, why));
}

}  // namespace

Result<MemberRecord> MemberRecord::Load(Engine& engine) {
  MemberRecord record;
  auto incarnation = engine.Get(Column::kMeta, kIncarnationKey);
  if (!incarnation) return incarnation.error();
  if (incarnation->has_value()) {
    if ((*incarnation)->size() != 8)
      return Malformed(kIncarnationKey, "not 8 bytes");
    record.incarnation = ReadBigEndian64(**incarnation);
  }
  auto forgotten = engine.Get(Column::kMeta, kForgottenKey);
  if (!forgotten) return forgotten.error();
  const std::string bytes = forgotten->value_or(std::string());
  std::string_view rest = bytes;
  while (!rest.empty()) {
    if (rest.size() < 4) return Malformed(kForgottenKey, "truncated");
    const uint32_t size = ReadBigEndian32(rest);
    if (rest.size() - 4 < size + uint64_t{8})
      return Malformed(kForgottenKey, "truncated");
    record.forgotten[std::string(rest.substr(4, size))] =
        ReadBigEndian64(rest.substr(4 + size));
    rest.remove_prefix(4 + size + 8);
  }
  auto members = engine.Get(Column::kMeta, kMembersKey);
  if (!members) return members.error();
  const std::string member_bytes = members->value_or(std::string());
  rest = member_bytes;
  while (!rest.empty()) {
    std::string id, address;
    if (!TakeString(rest, id) || !TakeString(rest, address) || id.empty() ||
        address.empty() || rest.size() < 8) {
      record.members.clear();
      record.members_malformed = true;
      break;
    }
    record.members[std::move(id)] = {std::move(address), ReadBigEndian64(rest)};
    rest.remove_prefix(8);
  }
  auto fill = engine.Get(Column::kMeta, kFillKey);
  if (!fill) return fill.error();
  if (fill->has_value()) {
    if ((*fill)->size() != 4) return Malformed(kFillKey, "not 4 bytes");
    record.fill_next = ReadBigEndian32(**fill);
  }
  return record;
}

void MemberRecord::StageChanges(const MemberRecord& next,
                                WriteBatch& batch) const {
  if (next.incarnation != incarnation) {
    std::string bytes;
    AppendBigEndian64(bytes, next.incarnation);
    batch.Put(Column::kMeta, kIncarnationKey, bytes);
  }
  if (next.forgotten != forgotten) {
    std::string bytes;
    for (const auto& [id, seen] : next.forgotten) {
      AppendBigEndian32(bytes, static_cast<uint32_t>(id.size()));
      bytes += id;
      AppendBigEndian64(bytes, seen);
    }
    batch.Put(Column::kMeta, kForgottenKey, bytes);
  }
  if (next.members != members) {
    std::string bytes;
    for (const auto& [id, known] : next.members) {
      AppendString(bytes, id);
      AppendString(bytes, known.first);
      AppendBigEndian64(bytes, known.second);
    }
    batch.Put(Column::kMeta, kMembersKey, bytes);
  }
  if (next.fill_next != fill_next) {
    if (next.fill_next) {
      std::string bytes;
      AppendBigEndian32(bytes, *next.fill_next);
      batch.Put(Column::kMeta, kFillKey, bytes);
    } else {
      batch.Delete(Column::kMeta, kFillKey);
    }
  }
}

}  // namespace gossipkv
