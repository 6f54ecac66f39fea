// PhiAccrualDetector over a sliding window with a running sum.
#include "cluster/phi_accrual.h"

#include <algorithm>

namespace gossipkv {

void PhiAccrualDetector::Heartbeat(int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_) {
    intervals_.push_back(static_cast<double>(now_ms - last_ms_));
    sum_ += intervals_.back();
    if (intervals_.size() > window_) {
      sum_ -= intervals_.front();
      intervals_.pop_front();
    }
  }
  last_ms_ = std::max(last_ms_, now_ms);
}

double PhiAccrualDetector::mean_interval_ms() const {
  // Until a few intervals are seen, lean on the configured interval so that
  // one early lucky arrival cannot make the detector hair-triggered.
  constexpr size_t kWarmup = 4;
  double total =
      sum_ +
      initial_interval_ms_ *
          (intervals_.size() < kWarmup ? kWarmup - intervals_.size() : 0);
  size_t count = std::max(intervals_.size(), kWarmup);
  return total / static_cast<double>(count);
}

double PhiAccrualDetector::Phi(int64_t now_ms) const {
  if (last_ms_ < 0) return 0;
  constexpr double kLog10E = 0.4342944819032518;
  return static_cast<double>(std::max<int64_t>(0, now_ms - last_ms_)) /
         mean_interval_ms() * kLog10E;
}

}  // namespace gossipkv
