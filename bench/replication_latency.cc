// How long after a SET is acknowledged on one node the value is readable on
// the others. Writes N keys to the first node, one at a time, and after each
// polls the other nodes with GET until all return it. Prints p50, p99, max.
//
//   build/release/bench/replication_latency N host:port host:port ...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/resp_client.h"
#include "config/config.h"

int main(int argc, char** argv) {
  using namespace gossipkv;
  using Clock = std::chrono::steady_clock;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s N writer-host:port reader-host:port...\n",
                 argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[1]);
  std::vector<std::unique_ptr<RespClient>> nodes;
  for (int i = 2; i < argc; ++i) {
    auto endpoint = ParseEndpoint(argv[i]);
    if (!endpoint) return 2;
    auto client = RespClient::Connect(endpoint->host, endpoint->port);
    if (!client) {
      std::fprintf(stderr, "%s\n", client.error().ToString().c_str());
      return 2;
    }
    nodes.push_back(std::move(*client));
  }
  std::vector<double> latencies_ms;
  const std::string run =
      std::to_string(Clock::now().time_since_epoch().count());
  for (int i = 0; i < n; ++i) {
    const std::string key = "latency:" + run + ":" + std::to_string(i);
    const std::string value = "v" + std::to_string(i);
    auto ok = nodes[0]->Call({"SET", key, value});
    if (!ok || ok->text != "OK") return 1;
    const auto acked = Clock::now();
    for (size_t r = 1; r < nodes.size(); ++r) {
      while (true) {
        auto got = nodes[r]->Call({"GET", key});
        if (!got) return 1;
        if (got->text == value) break;
        if (Clock::now() - acked > std::chrono::seconds(30)) {
          std::fprintf(stderr, "key %s never reached node %zu\n", key.c_str(),
                       r);
          return 1;
        }
      }
    }
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - acked)
            .count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms[static_cast<size_t>(p * (latencies_ms.size() - 1))];
  };
  std::printf(
      "SET on one node visible on all %zu others: p50 %.2f ms  p99 %.2f ms  "
      "max %.2f ms  (%d writes)\n",
      nodes.size() - 1, pct(0.5), pct(0.99), latencies_ms.back(), n);
  return 0;
}
