// Injectable randomness. Replication logic draws every random choice (peer
// selection, epochs) from a Random it was given, so a simulation seeded with
// the same value replays exactly — with any standard library: the engine
// (mt19937_64) is specified bit for bit, and the distributions below are
// computed here rather than by <random>'s, whose algorithms each library
// chooses for itself. Not thread-safe: one owner thread.
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
  // Uniform in [0, bound); bound must be > 0. Rejection sampling, so no
  // value is favoured.
  uint64_t Uniform(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % bound;
  }
  // Uniform in [0, 1), from the top 53 bits of one draw.
  double UnitDouble() {
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }
  // True with probability p.
  bool Bernoulli(double p) { return UnitDouble() < p; }
  // The first deadline of a task run every `interval_ms` from `now_ms`: a
  // random point within the first interval, so nodes started together do
  // not act together. INT64_MAX (never) when the interval is 0.
  int64_t FirstDeadline(int64_t now_ms, int64_t interval_ms) {
    if (interval_ms <= 0) return INT64_MAX;
    return now_ms + static_cast<int64_t>(
                        Uniform(static_cast<uint64_t>(interval_ms) + 1));
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace gossipkv
