// The chaos harness of tests/replication_sim_test.cc: a simulated cluster
// under client writes and deletes (some with stale or foreign contexts,
// some near the value limit), partitions, loss, duplication, long delays,
// size caps, skewed and drifting clocks, crashes at any step of a commit,
// graceful restarts and disk faults, then a heal; and the checks that
// every replica agrees and keeps exactly what it must (Harness). Tests
// only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace gossipkv {

constexpr int64_t kInterval = 1000;

inline ReplicaOptions Options(std::vector<std::string> seeds, bool gc = false) {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = kInterval;
  o.membership.seeds = std::move(seeds);
  o.membership.dead_after_ms = 5000;
  o.anti_entropy.interval_ms = 2000;
  o.gc.interval_ms = gc ? 3000 : 0;
  return o;
}

// Scaled-down production bounds, so the caps bite: messages of 64 KiB,
// frames of 1 MiB, 1 MiB in flight per link, values up to 48 KiB.
constexpr uint32_t kMaxMessageBytes = 64 << 10;
constexpr size_t kMaxValueBytes = 48 << 10;

inline std::string Id(int i) { return "n" + std::to_string(i); }

// One client write that was stored, acknowledged or not (a crash may come
// between commit and reply; a disk may store a batch and report it failed).
struct Write {
  std::string key;
  Dot dot;
  VersionVector context;  // what it replaced
  int64_t timestamp;
  bool del;
  std::string value;
  bool acked = false;
};

struct Scenario {
  int nodes = 8;
  int keys = 60;
  int64_t chaos_ms = 60'000;
  ConflictMode mode = ConflictMode::kSiblings;
  bool gc = false;    // tombstone GC
  bool harsh = true;  // skew, crashes at commits, slow and capped network
  size_t max_graves = 100'000;  // with gc
  uint32_t quorum = 1;          // owners each write waits for (Coordinator)
};

class Harness {
 public:
  Harness(uint64_t seed, const Scenario& sc)
      : sc_(sc), sim_(seed, Network(sc.harsh)), random_(seed * 31 + 7) {
    if (sc.harsh) {
      FaultOptions faults;
      faults.max_clock_skew_ms = 300'000;
      faults.max_clock_drift = 1e-4;
      faults.max_disk_latency_ms = 20;
      faults.crash_at_commit = 0.0005;
      faults.disk_failure_per_commit = 1.0 / 500;
      faults.max_disk_outage_ms = 3'000;
      sim_.set_faults(faults);
      // Odd seeds run on the real engine.
      if (seed % 2 == 1) sim_.set_engine(SimEngine::kRocksDB);
    }
    std::vector<std::string> seeds = {Id(0), Id(1)};
    StoreOptions store;
    store.merkle = MerkleShape{8, 2};
    store.conflict_mode = sc.mode;
    ReplicaOptions o = Options(seeds, sc.gc);
    if (sc.gc) {
      store.max_graves = sc.max_graves;
      // Young graves outlive the count bound for as long as a round can run
      // plus the slowest message, with a second to spare for disks and ticks.
      store.grave_min_age_ms =
          o.gc.round_timeout_ms + Network(sc.harsh).max_slow_latency_ms + 1000;
    }
    if (sc.harsh) {
      o.rumor.max_message_bytes = kMaxMessageBytes;
      o.anti_entropy.max_message_bytes = kMaxMessageBytes;
      o.gc.max_message_bytes = kMaxMessageBytes;
    }
    for (int i = 0; i < sc.nodes; ++i) sim_.AddNode(Id(i), o, true, store);
  }

  static NetworkOptions Network(bool harsh) {
    NetworkOptions n{1, 20, 0.05, 0.02};
    if (harsh) {
      n.slow = 0.02;
      n.max_slow_latency_ms = 3000;
      n.max_frame_bytes = 1 << 20;
      n.max_queue_bytes = 1 << 20;
    }
    return n;
  }

  void WriteAt(const std::string& node, const std::string& key, bool del) {
    if (!sim_.IsUp(node)) return;
    std::optional<std::string> value;
    if (!del) {
      value = "v" + std::to_string(++seq_);
      if (sc_.harsh && random_.Uniform(40) == 0)
        value->resize(kMaxValueBytes - random_.Uniform(64), 'x');
    }
    // Now and then a client writes back a context it read a while ago.
    const VersionVector* context = nullptr;
    auto stale = read_contexts_.find(key);
    if (sc_.harsh && stale != read_contexts_.end() && random_.Uniform(8) == 0)
      context = &stale->second;
    if (random_.Uniform(10) == 0) {
      auto read = sim_.Get(node, key);
      if (read && read->has_value()) read_contexts_[key] = (*read)->clock;
    }
    const size_t index = submitted_.size();
    const Actor self = sim_.store(node).self();
    auto written = sim_.Submit(node, key, value, context,
                               {[this, index] { durable_.push_back(index); },
                                [this, index] { acked_.insert(index); },
                                [this, index] { failed_.insert(index); }},
                               sc_.quorum);
    if (!written) {
      ++refused_;  // down, or its disk refuses writes: nothing was written
      return;
    }
    const Dot dot{self, written->clock.Get(self)};
    VersionVector replaced;
    if (context != nullptr) {
      replaced = *context;
    } else {
      // A plain write's context is the clock the node held for the key (its
      // entry's, a collected entry's, or none): the new clock minus the dot.
      replaced = written->clock;
      replaced.Set(self, dot.counter - 1);
    }
    int64_t ts = 0;
    for (const auto& s : written->siblings) {
      if (s.dot == dot) ts = s.timestamp_ms;
    }
    submitted_.push_back(
        {key, dot, replaced, ts, del, value.value_or(std::string()), false});
  }

  void Chaos() {
    const int64_t end = sim_.now() + sc_.chaos_ms;
    std::set<std::string> down;
    while (sim_.now() < end) {
      sim_.RunFor(50);
      const std::string node = Id(static_cast<int>(random_.Uniform(sc_.nodes)));
      const std::string key = "k" + std::to_string(random_.Uniform(sc_.keys));
      WriteAt(node, key, random_.Uniform(7) == 0);
      if (random_.Uniform(100) == 0) {  // every ~5 s: reshape the network
        if (random_.Bernoulli(0.5)) {
          std::vector<std::string> a, b;
          for (int i = 0; i < sc_.nodes; ++i)
            (random_.Bernoulli(0.5) ? a : b).push_back(Id(i));
          sim_.Partition({a, b});
        } else {
          sim_.Heal();
        }
      }
      if (random_.Uniform(150) == 0) {  // crashes and restarts
        const std::string victim =
            Id(static_cast<int>(random_.Uniform(sc_.nodes)));
        if (down.count(victim)) {
          sim_.Restart(victim);
          down.erase(victim);
        } else if (down.size() < static_cast<size_t>(sc_.nodes / 3)) {
          if (sc_.harsh && random_.Bernoulli(0.5)) {
            sim_.Shutdown(victim);  // SIGTERM: a restart follows
          } else {
            sim_.Crash(victim);
          }
          down.insert(victim);
        }
      }
    }
    FaultOptions calm;
    calm.max_disk_latency_ms = sc_.harsh ? 20 : 0;
    sim_.set_faults(calm);
    // Disks heal too: a node still refusing writes reopens its engine now.
    for (const auto& id : sim_.node_ids()) {
      if (!sim_.IsUp(id)) sim_.Restart(id);
      sim_.ReopenDisk(id);
    }
    sim_.Heal();
    sim_.set_loss(0);
  }

  // The writes whose batch was stored, in the order they were issued
  // (batches still pending when the chaos ended are stored after it). A
  // write whose commit failed is among them only if the engine stored it
  // anyway (then it must be kept like any stored write); one the engine
  // refused is not, so no replica may hold it, and its dot may be issued
  // again. Either way its client heard an error, never OK.
  void CollectStoredWrites() {
    writes_.clear();
    std::vector<size_t> durable = durable_;
    std::sort(durable.begin(), durable.end());
    for (size_t i : failed_) {
      ASSERT_FALSE(acked_.count(i))
          << submitted_[i].key << " " << submitted_[i].dot.ToString()
          << " was acknowledged, and its commit failed";
    }
    // A client told OK for a write whose batch was never stored lost it.
    for (size_t i : acked_) {
      ASSERT_TRUE(std::binary_search(durable.begin(), durable.end(), i))
          << submitted_[i].key << " " << submitted_[i].dot.ToString()
          << " was acknowledged but never stored";
    }
    for (size_t i : durable) {
      writes_.push_back(submitted_[i]);
      writes_.back().acked = acked_.count(i) > 0;
    }
  }

  bool Converged() {
    const uint64_t root = sim_.store(Id(0)).tree().Root();
    for (int i = 1; i < sc_.nodes; ++i) {
      if (sim_.store(Id(i)).tree().Root() != root) return false;
    }
    return true;
  }

  // No node stores an entry made only of tombstones.
  bool AllCollected() {
    for (int i = 0; i < sc_.nodes; ++i) {
      VersionedStore& store = sim_.store(Id(i));
      for (const auto& key : store.tombstoned_keys()) {
        auto e = store.Get(key);
        if (!e || !e->has_value() || (*e)->AllTombstones()) return false;
      }
    }
    return true;
  }

  // Every sibling anywhere was written by a stored write, with its value:
  // a dot that leaked before its write was stored, or that a restarted
  // node minted again for another value, shows here.
  void CheckEveryDotWasStoredWithItsValue() {
    // Dots count per key: (key, dot) names one write.
    std::map<std::pair<std::string, Dot>, const Write*> by_dot;
    for (const auto& w : writes_) {
      ASSERT_TRUE(by_dot.emplace(std::pair(w.key, w.dot), &w).second)
          << w.key << ": " << w.dot.ToString() << " issued twice";
    }
    for (int i = 0; i < sc_.nodes; ++i) {
      std::set<std::string> keys;
      for (const auto& w : writes_) keys.insert(w.key);
      for (const auto& key : keys) {
        auto got = sim_.Get(Id(i), key);
        ASSERT_TRUE(got) << key << " unreadable on " << Id(i);
        if (!got->has_value()) continue;
        for (const auto& s : (*got)->siblings) {
          auto it = by_dot.find({key, s.dot});
          ASSERT_NE(it, by_dot.end())
              << key << " on " << Id(i) << " holds " << s.dot.ToString()
              << ", a write that was never stored";
          EXPECT_EQ(s.tombstone, it->second->del) << s.dot.ToString();
          if (!s.tombstone) {
            ASSERT_EQ(s.value, it->second->value)
                << key << " on " << Id(i) << ": two values under "
                << s.dot.ToString();
          }
        }
      }
    }
  }

  void CheckNothingLost() {
    CollectStoredWrites();
    CheckEveryDotWasStoredWithItsValue();
    if (::testing::Test::HasFatalFailure()) return;
    std::map<std::string, std::vector<const Write*>> by_key;
    for (const auto& w : writes_) by_key[w.key].push_back(&w);
    for (const auto& [key, writes] : by_key) {
      const Write* lww_winner = nullptr;
      for (const Write* w : writes) {
        if (!lww_winner ||
            std::tie(w->timestamp, w->dot) >
                std::tie(lww_winner->timestamp, lww_winner->dot)) {
          lww_winner = w;
        }
      }
      // Collected: allowed when all that survives of the key is deletions.
      bool only_deletes_survive = true;
      for (const Write* w : writes) {
        bool superseded = false;
        for (const Write* later : writes)
          superseded |= later->context.Covers(w->dot);
        if (!superseded && !w->del) only_deletes_survive = false;
      }
      const bool may_be_gone =
          sc_.gc &&
          (sc_.mode == ConflictMode::kLastWriteWins ? lww_winner->del
                                                    : only_deletes_survive);
      for (int i = 0; i < sc_.nodes; ++i) {
        auto got = sim_.Get(Id(i), key);
        ASSERT_TRUE(got) << key << " unreadable on " << Id(i);
        if (!got->has_value() && may_be_gone) continue;
        ASSERT_TRUE(got->has_value()) << key << " missing on " << Id(i);
        const Entry& e = **got;
        std::set<Dot> dots;
        for (const auto& s : e.siblings) dots.insert(s.dot);
        if (sc_.mode == ConflictMode::kLastWriteWins) {
          ASSERT_EQ(dots, std::set<Dot>{lww_winner->dot})
              << key << " on " << Id(i) << " holds " << e.ToString()
              << ", not the last write " << lww_winner->dot.ToString();
          continue;
        }
        for (const Write* w : writes) {
          bool superseded = false;
          for (const Write* later : writes)
            superseded |= later->context.Covers(w->dot);
          // A deletion that is not superseded may have been collected, and
          // the key written again from a clock that no longer names it.
          if (sc_.gc && w->del && !superseded) continue;
          if (sc_.gc && superseded) {
            ASSERT_FALSE(dots.count(w->dot))
                << key << " on " << Id(i) << " resurrected "
                << w->dot.ToString();
            continue;
          }
          ASSERT_TRUE(e.clock.Covers(w->dot))
              << key << " on " << Id(i) << " never saw " << w->dot.ToString();
          if (superseded) {
            ASSERT_FALSE(dots.count(w->dot))
                << key << " on " << Id(i) << " resurrected "
                << w->dot.ToString();
          } else {
            ASSERT_TRUE(dots.count(w->dot))
                << key << " on " << Id(i) << " lost " << w->dot.ToString();
          }
        }
      }
    }
  }

  Simulation& sim() { return sim_; }
  size_t writes() const { return durable_.size(); }
  size_t acked() const { return acked_.size(); }
  size_t failed() const { return failed_.size(); }
  size_t refused() const { return refused_; }

 private:
  Scenario sc_;
  Simulation sim_;
  Random random_;
  uint64_t seq_ = 0;
  std::vector<Write> submitted_;
  std::vector<size_t> durable_;  // indices into submitted_
  std::set<size_t> acked_;       // indices into submitted_
  std::set<size_t> failed_;      // indices into submitted_: replied an error
  size_t refused_ = 0;           // writes refused before they were made
  std::vector<Write> writes_;    // the stored ones, after Chaos()
  std::map<std::string, VersionVector> read_contexts_;
};

}  // namespace gossipkv
