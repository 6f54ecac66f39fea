// QuorumSimTest: the fixture of the quorum and hinted-handoff simulator
// tests (tests/quorum_sim_test.cc, tests/hinted_handoff_sim_test.cc): five
// nodes, three replicas per partition, a lossy network with slow links and
// commits that take time; helpers to write, read and crash. Tests only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace gossipkv {

constexpr int kNodes = 5;

inline std::string Id(int i) { return "n" + std::to_string(i); }

class QuorumSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t seed = Simulation::SeedFromEnv(41);
    RecordProperty("seed", std::to_string(seed));
    NetworkOptions net{1, 50, 0.02, 0.02};
    net.slow = 0.02;
    net.max_slow_latency_ms = 500;
    sim_ = std::make_unique<Simulation>(seed, net);
    // Commits take time: an owner that answered before its merge was on
    // its disk would be caught by the crash below.
    FaultOptions faults;
    faults.max_disk_latency_ms = 50;
    sim_->set_faults(faults);
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 500;
    o.membership.seeds = {Id(0)};
    o.anti_entropy.interval_ms = 5000;
    o.ring.partition_bits = 8;
    o.coordinator.request_timeout_ms = 2000;
    Adjust(o);
    StoreOptions store;
    store.merkle = MerkleShape{8, 2};
    for (int i = 0; i < kNodes; ++i) sim_->AddNode(Id(i), o, true, store);
    sim_->RunFor(10'000);  // membership forms
    // Every node holds some data: one that holds none, or a tenth of a
    // peer's, takes a fill stream and answers no read meanwhile
    // (replication/anti_entropy.h).
    for (int i = 0; i < 30; ++i) {
      auto w = sim_->Submit(Id(i % kNodes), "pre" + std::to_string(i), "p",
                            nullptr, {});
      ASSERT_TRUE(w.has_value());
    }
    sim_->RunFor(10'000);
  }

  virtual void Adjust(ReplicaOptions& options) {}

  const Ring& RingOf(const std::string& id) { return sim_->replica(id).ring(); }
  // Hints held over every node that is up.
  uint64_t HintsHeld() {
    uint64_t held = 0;
    for (int i = 0; i < kNodes; ++i) {
      if (sim_->IsUp(Id(i))) held += sim_->replica(Id(i)).hints()->hint_count();
    }
    return held;
  }
  // A replication counter summed over every node that is up.
  uint64_t SumOverUp(uint64_t ReplicationStats::*counter) {
    uint64_t sum = 0;
    for (int i = 0; i < kNodes; ++i) {
      if (sim_->IsUp(Id(i))) sum += sim_->replica(Id(i)).stats().*counter;
    }
    return sum;
  }
  // `owners` but `coordinator` are crashed, and runs until `coordinator`
  // no longer believes them alive.
  void CrashOthersAndWait(const std::vector<std::string>& owners,
                          const std::string& coordinator) {
    for (const auto& owner : owners) {
      if (owner != coordinator) sim_->Crash(owner);
    }
    ASSERT_TRUE(sim_->RunUntil(
        [&] {
          for (const auto& owner : owners) {
            if (owner != coordinator &&
                sim_->replica(coordinator).membership().LivenessOf(owner) ==
                    Liveness::kAlive)
              return false;
          }
          return true;
        },
        60'000));
  }
  // A key whose owners include `coordinator` (or exclude it).
  std::string KeyOwnedBy(const std::string& coordinator, bool owned,
                         int from = 0) {
    const Ring& ring = RingOf(coordinator);
    const int self = ring.IndexOf(coordinator);
    for (int i = from;; ++i) {
      std::string key = "k" + std::to_string(i);
      if (ring.Owns(self, ring.PartitionOfKey(key)) == owned) return key;
    }
  }
  struct Outcome {
    bool acked = false;
    bool failed = false;
    std::string error;
  };
  // Submits a write at `at` with `quorum`, and runs until it is answered.
  std::shared_ptr<Outcome> WriteAndWait(const std::string& at,
                                        const std::string& key,
                                        const std::string& value,
                                        uint32_t quorum) {
    auto outcome = std::make_shared<Outcome>();
    auto written = sim_->Submit(
        at, key, value, nullptr,
        {nullptr, [outcome] { outcome->acked = true; },
         [outcome] { outcome->failed = true; },
         [outcome](const Status& s) { outcome->error = s.message(); }},
        quorum);
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    sim_->RunUntil([&] { return outcome->acked || outcome->failed; }, 10'000,
                   1);
    return outcome;
  }
  // Of `owners`, those other than `coordinator` whose store holds `value`
  // under `key`.
  int OthersHolding(const std::vector<std::string>& owners,
                    const std::string& coordinator, const std::string& key,
                    const std::string& value) {
    int holding = 0;
    for (const auto& owner : owners) {
      if (owner == coordinator) continue;
      auto entry = sim_->Get(owner, key);
      if (!entry || !entry->has_value()) continue;
      for (const auto& s : (*entry)->siblings) {
        if (!s.tombstone && s.value == value) ++holding;
      }
    }
    return holding;
  }
  // Every node crashes (what its disk holds survives), the coordinator
  // with its disk; all restart.
  void CrashEveryone(const std::string& coordinator) {
    for (int i = 0; i < kNodes; ++i) sim_->Crash(Id(i));
    for (int i = 0; i < kNodes; ++i)
      sim_->Restart(Id(i), /*lose_data=*/Id(i) == coordinator);
  }

  struct ReadOutcome {
    bool done = false;
    Status status;
    KeyRead read;
    int64_t at_ms = 0;  // virtual time of the answer
  };
  // Reads `key` at `at` with `quorum`, and runs until it is answered.
  std::shared_ptr<ReadOutcome> ReadAndWait(const std::string& at,
                                           const std::string& key,
                                           uint32_t quorum) {
    auto outcome = std::make_shared<ReadOutcome>();
    Status started = sim_->Read(
        at, {key}, quorum,
        [outcome, this](const Status& s, std::vector<KeyRead> reads) {
          outcome->done = true;
          outcome->status = s;
          outcome->read = reads.at(0);
          outcome->at_ms = sim_->now();
        });
    EXPECT_TRUE(started.ok()) << started.ToString();
    sim_->RunUntil([&] { return outcome->done; }, 10'000, 1);
    return outcome;
  }
  static bool Holds(const std::optional<Entry>& entry,
                    const std::string& value) {
    if (!entry) return false;
    for (const auto& s : entry->siblings) {
      if (!s.tombstone && s.value == value) return true;
    }
    return false;
  }

  std::unique_ptr<Simulation> sim_;
};

}  // namespace gossipkv
