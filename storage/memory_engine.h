// MemoryEngine: an Engine held in std::map, for unit tests and the
// simulator, where a thousand nodes must fit in one process. Same semantics
// as RocksDBEngine (atomic batches, ordered snapshot scans), no durability.
// Snapshots copy-on-write: taking one is O(1), the next write copies.
#pragma once

#include <array>
#include <map>
#include <memory>

#include "storage/engine.h"

namespace gossipkv {

class MemoryEngine final : public Engine {
 public:
  MemoryEngine();

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override;
  Status Write(const WriteBatch& batch) override;
  std::unique_ptr<EngineReader> NewSnapshot() override;

  using Table = std::map<std::string, std::string, std::less<>>;
  using Tables = std::array<Table, kColumnCount>;

 private:
  // Shared with live snapshots; copied before a write when not unique.
  std::shared_ptr<Tables> tables_;
};

}  // namespace gossipkv
