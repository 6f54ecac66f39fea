// Injectable time sources. Replication logic never reads the system clock
// directly: the server passes a SystemClock, the simulator and tests pass a
// ManualClock that only moves when told. A Clock is used from one thread.
#pragma once

#include <cstdint>

namespace gossipkv {

// Milliseconds since the Unix epoch (wall time, used for sibling timestamps)
// and a monotonic reading in milliseconds (used for intervals and timeouts).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMillis() = 0;
  virtual int64_t MonotonicMillis() = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t WallMillis() override;
  int64_t MonotonicMillis() override;
};

// A clock that only advances when told to; wall and monotonic move together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_millis = 1'700'000'000'000)
      : now_(start_millis) {}
  int64_t WallMillis() override { return now_; }
  int64_t MonotonicMillis() override { return now_; }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  int64_t now_;
};

}  // namespace gossipkv
