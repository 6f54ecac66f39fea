// Helpers for benchmarks that run real gossipkv processes (the
// convergence experiment, bench/join): numeric INFO fields, free ports.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cli/resp_client.h"

namespace gossipkv {

// Every numeric field of INFO peers and INFO replication.
std::map<std::string, uint64_t> InfoCounters(RespClient& c);
// A base port whose client (base+i) and peer (base+100+i) ports are free
// for nodes 1..nodes.
int FreeBasePort(int nodes);

}  // namespace gossipkv
