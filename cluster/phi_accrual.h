// PhiAccrualDetector: how suspicious the silence of one member is
// (Hayashibara et al.; the variant Cassandra uses). It keeps a window of the
// intervals between heartbeat arrivals and models them as exponential, so
// phi = (time since the last arrival) / (mean interval) * log10(e): phi = 8
// means the silence has lasted 18.4 mean intervals, which a live member on
// this network would do with probability 1e-8. Pure; one owner thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace gossipkv {

class PhiAccrualDetector {
 public:
  // `initial_interval_ms`: the mean assumed before any interval is seen
  // (the gossip interval). `window`: how many intervals the mean covers.
  explicit PhiAccrualDetector(double initial_interval_ms, size_t window = 1000)
      : initial_interval_ms_(initial_interval_ms), window_(window) {}

  void Heartbeat(int64_t now_ms);
  double Phi(int64_t now_ms) const;
  int64_t last_arrival_ms() const { return last_ms_; }
  double mean_interval_ms() const;

 private:
  double initial_interval_ms_;
  size_t window_;
  std::deque<double> intervals_;
  double sum_ = 0;
  int64_t last_ms_ = -1;
};

}  // namespace gossipkv
