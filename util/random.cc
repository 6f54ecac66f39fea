// Entropy for seeding real servers' Random.
#include "util/random.h"

namespace gossipkv {

uint64_t Random::EntropySeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace gossipkv
