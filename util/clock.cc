// SystemClock over std::chrono.
#include "util/clock.h"

#include <chrono>

namespace gossipkv {

int64_t SystemClock::WallMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

int64_t SystemClock::MonotonicMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace gossipkv
