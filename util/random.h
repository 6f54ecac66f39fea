// Injectable randomness. Replication logic draws every random choice (peer
// selection, epochs) from a Random it was given, so a simulation seeded with
// the same value replays exactly. Not thread-safe: one owner thread.
#pragma once

#include <cstdint>
#include <random>

namespace gossipkv {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // A seed from the operating system's entropy source, for real servers.
  static uint64_t EntropySeed();

  uint64_t Next64() { return engine_(); }
  // Uniform in [0, bound); bound must be > 0.
  uint64_t Uniform(uint64_t bound) {
    return std::uniform_int_distribution<uint64_t>(0, bound - 1)(engine_);
  }
  // True with probability p.
  bool Bernoulli(double p) { return std::bernoulli_distribution(p)(engine_); }
  double UnitDouble() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }
  // The first deadline of a task run every `interval_ms` from `now_ms`: a
  // random point within the first interval, so nodes started together do
  // not act together. INT64_MAX (never) when the interval is 0.
  int64_t FirstDeadline(int64_t now_ms, int64_t interval_ms) {
    if (interval_ms <= 0) return INT64_MAX;
    return now_ms + static_cast<int64_t>(
                        Uniform(static_cast<uint64_t>(interval_ms) + 1));
  }

  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace gossipkv
