// MemoryEngine: std::map per column family with copy-on-write snapshots.
#include "storage/memory_engine.h"

namespace gossipkv {
namespace {

Result<std::optional<std::string>> GetFrom(const MemoryEngine::Tables& tables,
                                           Column column,
                                           std::string_view key) {
  const auto& table = tables[static_cast<int>(column)];
  auto it = table.find(key);
  if (it == table.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status ScanFrom(const MemoryEngine::Tables& tables, Column column,
                std::string_view begin, std::string_view end,
                const ScanVisitor& visit) {
  const auto& table = tables[static_cast<int>(column)];
  for (auto it = table.lower_bound(begin); it != table.end(); ++it) {
    if (!end.empty() && std::string_view(it->first) >= end) break;
    if (!visit(it->first, it->second)) break;
  }
  return Status::Ok();
}

class MemorySnapshot final : public EngineReader {
 public:
  explicit MemorySnapshot(std::shared_ptr<const MemoryEngine::Tables> tables)
      : tables_(std::move(tables)) {}
  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override {
    return GetFrom(*tables_, column, key);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override {
    return ScanFrom(*tables_, column, begin, end, visit);
  }

 private:
  std::shared_ptr<const MemoryEngine::Tables> tables_;
};

}  // namespace

MemoryEngine::MemoryEngine() : tables_(std::make_shared<Tables>()) {}

Result<std::optional<std::string>> MemoryEngine::Get(Column column,
                                                     std::string_view key) {
  return GetFrom(*tables_, column, key);
}

Status MemoryEngine::Scan(Column column, std::string_view begin,
                          std::string_view end, const ScanVisitor& visit) {
  // Hold a reference so a write made by the visitor cannot free the tables.
  auto pinned = tables_;
  return ScanFrom(*pinned, column, begin, end, visit);
}

Status MemoryEngine::Write(const WriteBatch& batch) {
  if (tables_.use_count() > 1) tables_ = std::make_shared<Tables>(*tables_);
  for (const auto& op : batch.ops()) {
    auto& table = (*tables_)[static_cast<int>(op.column)];
    if (op.is_delete) {
      auto it = table.find(op.key);
      if (it != table.end()) table.erase(it);
    } else {
      table.insert_or_assign(op.key, op.value);
    }
  }
  return Status::Ok();
}

std::unique_ptr<EngineReader> MemoryEngine::NewSnapshot() {
  return std::make_unique<MemorySnapshot>(tables_);
}

}  // namespace gossipkv
