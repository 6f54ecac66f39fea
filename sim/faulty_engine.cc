// FaultyEngine: reads pass through; a write fails when armed, and every
// write after it until TryResume().
#include "sim/faulty_engine.h"

namespace gossipkv {

bool FaultyEngine::Disarm() {
  const bool was = armed_.has_value();
  armed_.reset();
  return was;
}

Result<std::optional<std::string>> FaultyEngine::Get(Column column,
                                                     std::string_view key) {
  return inner_.Get(column, key);
}

Status FaultyEngine::Scan(Column column, std::string_view begin,
                          std::string_view end, const ScanVisitor& visit) {
  if (failing_scans_ > 0) {
    --failing_scans_;
    return Status::IOError("injected read failure");
  }
  return inner_.Scan(column, begin, end, visit);
}

std::unique_ptr<EngineReader> FaultyEngine::NewSnapshot() {
  return inner_.NewSnapshot();
}

Status FaultyEngine::Writable() {
  if (!error_.empty()) return Status::IOError(error_);
  return inner_.Writable();
}

Status FaultyEngine::Write(const WriteBatch& batch) {
  GOSSIPKV_RETURN_IF_ERROR(Writable());
  if (!armed_) return inner_.Write(batch);
  const DiskFault fault = *armed_;
  armed_.reset();
  if (fault == DiskFault::kAppliedButFailed) {
    GOSSIPKV_RETURN_IF_ERROR(inner_.Write(batch));
    ++applied_failures_;
    error_ = "injected disk fault: sync failed after the write";
  } else {
    error_ = "injected disk fault: write refused";
  }
  ++failures_;
  last_fault_ = fault;
  return Status::IOError(error_);
}

Status FaultyEngine::TryResume() {
  error_.clear();
  return inner_.TryResume();
}

}  // namespace gossipkv
