// bench/join: an empty node joins a 3-node cluster. Starts n1..n3 as
// processes, loads K keys of V-byte values through n1 (MSET, 1,000 pairs a
// call), waits until the three agree, then starts n4 with an empty data
// directory and samples its digest every 10 ms until it equals n1's. For
// each K prints: seconds from n4's start to agreement; the keys and values
// n4 ends with, in MB per second of that; every byte n4 received from
// peers (gossip and framing included) divided by the bytes it stores (keys
// and encoded entries: values with their version vectors; one copy is
// about 1.0, a stream from each member about 3) and divided by the keys and
// values alone; entries the members pushed per key; and the streams they
// started. Medians of --rounds runs.
//
//   build/release/bench/join --keys 20000,1000000 --rounds 3
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "bench/bench_cluster.h"
#include "cli/local_cluster.h"

namespace gossipkv {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

struct JoinRun {
  double seconds = 0, mb_per_s = 0, pushed_per_key = 0;
  double received_per_stored = 0, received_per_raw = 0;
  uint64_t streams = 0;
};

std::string Root(LocalCluster& cluster, const std::string& name) {
  auto c = cluster.Connect(name);
  if (!c) return "";
  auto r = (*c)->Call({"DIGEST"});
  return r && r->elements.size() == 3 ? r->elements[0].text : "";
}

bool WaitAgree(LocalCluster& cluster, const std::vector<std::string>& names,
               std::chrono::seconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    const std::string first = Root(cluster, names[0]);
    bool all = !first.empty();
    for (const auto& n : names) all = all && Root(cluster, n) == first;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

Result<JoinRun> RunOnce(uint64_t keys, size_t value_bytes,
                        uint64_t repair_bytes_per_second) {
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("gossipkv-join-{}", getpid());
  fs::remove_all(dir);
  LocalCluster cluster(dir.string());
  // Appended to each generated config, whose last table is [replication].
  const std::string extra =
      fmt::format("repair_bytes_per_second = {}\n", repair_bytes_per_second);
  GOSSIPKV_RETURN_IF_ERROR(cluster.Start(4, FreeBasePort(4), FindServerBinary(),
                                         extra, false, "siblings",
                                         /*held_back=*/1));
  auto cleanup = [&] {
    (void)cluster.Stop();
    fs::remove_all(dir);
  };
  auto client = cluster.Connect("n1");
  if (!client) {
    cleanup();
    return client.error();
  }
  const std::string value(value_bytes, 'v');
  uint64_t data_bytes = 0, key_bytes = 0;
  for (uint64_t i = 0; i < keys;) {
    std::vector<std::string> args{"MSET"};
    for (int j = 0; j < 1000 && i < keys; ++j, ++i) {
      args.push_back(fmt::format("key:{:09}", i));
      key_bytes += args.back().size();
      data_bytes += args.back().size() + value.size();
      args.push_back(value);
    }
    auto r = (*client)->Call(args);
    if (!r || r->is_error()) {
      cleanup();
      return Status::IOError("MSET failed: " +
                             (r ? r->text : r.error().message()));
    }
  }
  if (!WaitAgree(cluster, {"n1", "n2", "n3"}, std::chrono::seconds(600))) {
    cleanup();
    return Status::IOError("n1..n3 did not agree after loading");
  }
  // A field summed over the members.
  auto members_sum = [&](const char* field) {
    uint64_t total = 0;
    for (const char* n : {"n1", "n2", "n3"}) {
      auto c = cluster.Connect(n);
      if (c) total += InfoCounters(**c)[field];
    }
    return total;
  };
  const uint64_t pushed_before = members_sum("ae_keys_pushed");
  const uint64_t streams_before = members_sum("ae_streams_started");
  const auto start = SteadyClock::now();
  Status launched = cluster.Launch("n4", FindServerBinary());
  if (!launched.ok() ||
      !WaitAgree(cluster, {"n1", "n4"}, std::chrono::seconds(1200))) {
    cleanup();
    return launched.ok() ? Status::IOError("n4 did not catch up") : launched;
  }
  JoinRun run;
  run.seconds =
      std::chrono::duration<double>(SteadyClock::now() - start).count();
  run.mb_per_s = static_cast<double>(data_bytes) / 1e6 / run.seconds;
  const uint64_t pushed = members_sum("ae_keys_pushed") - pushed_before;
  run.pushed_per_key = static_cast<double>(pushed) / static_cast<double>(keys);
  run.streams = members_sum("ae_streams_started") - streams_before;
  auto c4 = cluster.Connect("n4");
  if (c4 && pushed > 0) {
    auto info = InfoCounters(**c4);
    const double received = static_cast<double>(info["peer_bytes_received"]);
    // Every copy of an entry has the same size, so the entries n4 stores
    // come to what it received of them times keys / copies sent.
    const double stored = static_cast<double>(key_bytes) +
                          static_cast<double>(info["ae_entry_bytes_received"]) *
                              static_cast<double>(keys) /
                              static_cast<double>(pushed);
    run.received_per_stored = received / stored;
    run.received_per_raw = received / static_cast<double>(data_bytes);
  }
  cleanup();
  return run;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  std::vector<uint64_t> key_counts{20000, 1000000};
  size_t value_bytes = 100;
  int rounds = 3;
  uint64_t budget = 8 << 20;
  CLI::App app{"an empty node joins a 3-node cluster"};
  app.add_option("--keys", key_counts, "key counts")->delimiter(',');
  app.add_option("--value-bytes", value_bytes, "bytes per value");
  app.add_option("--rounds", rounds, "runs per key count (median)");
  app.add_option("--repair-bytes-per-second", budget,
                 "the members' repair budget (config default 8 MiB)");
  CLI11_PARSE(app, argc, argv);
  fmt::print("members' repair budget: {} bytes/s\n", budget);
  fmt::print("{:>9} {:>8} {:>8} {:>16} {:>14} {:>10} {:>8}\n", "keys",
             "seconds", "MB/s", "received/stored", "received/raw", "pushed/key",
             "streams");
  for (uint64_t keys : key_counts) {
    std::vector<double> seconds, rate, stored, raw, pushed;
    uint64_t streams = 0;
    for (int r = 0; r < rounds; ++r) {
      auto run = RunOnce(keys, value_bytes, budget);
      if (!run) {
        fmt::print(stderr, "{} keys: {}\n", keys, run.error().message());
        return 1;
      }
      seconds.push_back(run->seconds);
      rate.push_back(run->mb_per_s);
      stored.push_back(run->received_per_stored);
      raw.push_back(run->received_per_raw);
      pushed.push_back(run->pushed_per_key);
      streams = std::max(streams, run->streams);
    }
    fmt::print(
        "{:>9} {:>8.2f} {:>8.1f} {:>15.3f}x {:>13.3f}x {:>10.3f} {:>8}\n", keys,
        Median(seconds), Median(rate), Median(stored), Median(raw),
        Median(pushed), streams);
  }
  return 0;
}
