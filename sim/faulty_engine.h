// FaultyEngine: an Engine that passes everything to another one and fails
// writes when told to, as a failing disk does. For the simulator
// (sim/simulation.h) and tests only; production never wraps its engine.
//
// A failed write comes in two flavours: refused (nothing of the batch
// reaches the engine below) or applied but reported failed (the batch is
// stored, yet Write returns an error, as RocksDB may when a sync fails after
// the append). Either way the engine then refuses writes, as RocksDBEngine
// does after a failed write: Write and Writable() return the error until
// TryResume(), while reads go on. A failure is armed for the next Write
// only; Disarm() withdraws one that no Write took.
//
// Owned by one thread, like every Engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "storage/engine.h"

namespace gossipkv {

enum class DiskFault { kRefused, kAppliedButFailed };

class FaultyEngine final : public Engine {
 public:
  // `inner` must outlive this engine.
  explicit FaultyEngine(Engine& inner) : inner_(inner) {}

  // The next Write fails with `fault`.
  void FailNextWrite(DiskFault fault) { armed_ = fault; }
  // Withdraws a failure no Write took; true if one was armed.
  bool Disarm();
  // The next `count` scans fail with an I/O error (a failing read).
  void FailScans(int count) { failing_scans_ = count; }

  // Writes failed so far, and of them those whose batch was stored.
  uint64_t failures() const { return failures_; }
  uint64_t applied_failures() const { return applied_failures_; }
  // How the last failed Write failed.
  std::optional<DiskFault> last_fault() const { return last_fault_; }

  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override;
  Status Write(const WriteBatch& batch) override;
  std::unique_ptr<EngineReader> NewSnapshot() override;
  Status Writable() override;
  // Takes writes again (the disk came back), then asks the engine below.
  Status TryResume() override;

 private:
  Engine& inner_;
  std::optional<DiskFault> armed_;
  std::optional<DiskFault> last_fault_;
  std::string error_;  // why writes are refused; empty while accepted
  uint64_t failures_ = 0;
  uint64_t applied_failures_ = 0;
  int failing_scans_ = 0;
};

}  // namespace gossipkv
