// Helpers for benchmarks that run real gossipkv processes.
#include "bench/bench_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace gossipkv {

std::map<std::string, uint64_t> InfoCounters(RespClient& c) {
  std::map<std::string, uint64_t> out;
  for (const char* section : {"peers", "replication"}) {
    auto reply = c.Call({"INFO", section});
    if (!reply) continue;
    std::string& t = reply->text;
    size_t pos = 0;
    while (pos < t.size()) {
      size_t eol = t.find("\r\n", pos);
      if (eol == std::string::npos) eol = t.size();
      std::string line = t.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos || line[0] == '#') continue;
      try {
        out[line.substr(0, colon)] = std::stoull(line.substr(colon + 1));
      } catch (...) {
      }
    }
  }
  return out;
}

// A base port whose client (base+i) and peer (base+100+i) ports are free.
int FreeBasePort(int nodes) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base =
        20000 +
        static_cast<int>(
            (std::chrono::steady_clock::now().time_since_epoch().count() / 7 +
             attempt * 397) %
            20000);
    bool free = true;
    std::vector<int> fds;
    for (int i = 1; i <= nodes && free; ++i) {
      for (int port : {base + i, base + 100 + i}) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        free &= bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        fds.push_back(fd);
      }
    }
    for (int fd : fds) close(fd);
    if (free) return base;
  }
  return 30000;
}

}  // namespace gossipkv
