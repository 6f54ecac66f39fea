// Replication under the deterministic simulator: client writes and deletes
// at random nodes — some with stale contexts, some with values near the
// scenario's value limit — while partitions come and go, messages are lost,
// duplicated, delayed by seconds and capped in size, clocks are skewed by
// up to 300 s and drift, and nodes crash (at any step of a commit, or at
// random) and restart gracefully or not, and a commit's engine write fails
// (refused, or stored but reported failed) one time in 500, on the
// in-memory engine or on RocksDB. Then everything heals and every replica
// must agree, keep every stored write (as the value or a sibling) unless a
// later write's context replaced it, resurrect none that was replaced, and
// hold no value under a dot other than the one written with it, nor any
// write that was never stored; no dot may be issued twice. With tombstone
// GC on (and a grave limit of 2), a key may also be gone, but only if all
// that survives of it is a deletion. GOSSIPKV_SEED=<seed> replays a failing
// run (with the scenario that seed gets); GOSSIPKV_SEEDS=<count> runs that
// many seeds from each test's first. The scenario tests are in
// replication_scenarios_sim_test.cc; the harness in replication_chaos.h.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "tests/replication_chaos.h"

namespace gossipkv {
namespace {

// How many seeds a chaos test runs: GOSSIPKV_SEEDS, else `fallback`.
uint64_t SeedCount(uint64_t fallback) {
  const char* env = std::getenv("GOSSIPKV_SEEDS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : fallback;
}

// Crashes injected at commits over every chaos run so far: a test whose
// runs saw none did not test what it claims.
uint64_t crashes_injected = 0;
// Engine writes failed by the disk faults, likewise.
uint64_t disk_failures_injected = 0;

void RunChaos(uint64_t seed, const Scenario& sc) {
  Harness h(seed, sc);
  h.sim().RunFor(5 * kInterval);
  h.Chaos();
  const int64_t healed = h.sim().now();
  // Bound: 30 anti-entropy intervals after everything healed.
  ASSERT_TRUE(h.sim().RunUntil([&] { return h.Converged(); }, 60'000, 100))
      << "replicas still differ 60 s after healing";
  const int64_t converged_ms = h.sim().now() - healed;
  // docs/architecture.md: the seeds of these tests converge in 0.3 to 4.7 s
  // and are held to 5 s (other seeds only to the 60 s bound). The slowest
  // waits for tombstone GC to collect a tombstone only one node holds.
  if (std::getenv("GOSSIPKV_SEED") == nullptr &&
      std::getenv("GOSSIPKV_SEEDS") == nullptr) {
    EXPECT_LE(converged_ms, 5'000) << "seed " << seed;
  }
  if (sc.gc) {
    ASSERT_TRUE(h.sim().RunUntil(
        [&] { return h.AllCollected() && h.Converged(); }, 60'000, 100))
        << "tombstones left 60 s after convergence";
  }
  // Hints drain once every owner is back (replication/hinted_handoff.h).
  auto hints_held = [&] {
    uint64_t held = 0;
    for (const auto& id : h.sim().node_ids())
      held += h.sim().replica(id).hints()->hint_count();
    return held;
  };
  // Drained, and settled: every node up (a crash at a commit may have
  // taken one down) and nothing left to write.
  auto settled = [&] {
    for (const auto& id : h.sim().node_ids()) {
      if (!h.sim().IsUp(id) || h.sim().driver(id).commit_needed() ||
          h.sim().driver(id).commit_in_flight())
        return false;
    }
    return hints_held() == 0;
  };
  const bool drained = h.sim().RunUntil(settled, 60'000, 10);
  ASSERT_TRUE(drained) << hints_held() << " hints left 60 s after convergence";
  for (const auto& id : h.sim().node_ids()) {  // none left uncounted either
    size_t records = 0;
    ASSERT_TRUE(h.sim()
                    .store(id)
                    .engine()
                    .Scan(Column::kHints, "", "",
                          [&](std::string_view, std::string_view) {
                            ++records;
                            return true;
                          })
                    .ok());
    EXPECT_EQ(records, 0u) << id << " holds hints it does not count";
  }
  uint64_t collected = 0, hinted = 0;
  for (const auto& id : h.sim().node_ids()) {
    collected += h.sim().replica(id).stats().gc_tombstones_collected;
    hinted += h.sim().replica(id).stats().hints_stored;
  }
  std::printf(
      "seed %llu: %d nodes, %zu stored writes (%zu acknowledged), %llu "
      "crashes at commits, converged %.1f s after heal%s %.1f s, %llu msgs, "
      "%llu tombstones collected; %llu disk failures (%llu stored anyway), "
      "%llu reopens, %zu writes failed, %zu refused, %llu hints\n",
      static_cast<unsigned long long>(seed), sc.nodes, h.writes(), h.acked(),
      static_cast<unsigned long long>(h.sim().traffic().crashes),
      converged_ms / 1000.0, sc.gc ? ", collected" : ", done",
      (h.sim().now() - healed) / 1000.0,
      static_cast<unsigned long long>(h.sim().traffic().messages),
      static_cast<unsigned long long>(collected),
      static_cast<unsigned long long>(h.sim().traffic().disk_failures),
      static_cast<unsigned long long>(h.sim().traffic().disk_failures_applied),
      static_cast<unsigned long long>(h.sim().traffic().disk_reopens),
      h.failed(), h.refused(), static_cast<unsigned long long>(hinted));
  crashes_injected += h.sim().traffic().crashes;
  disk_failures_injected += h.sim().traffic().disk_failures;
  h.CheckNothingLost();
}

TEST(ReplicationSimTest, ChaosThenHealConvergesAndLosesNothing) {
  const uint64_t crashes_before = crashes_injected;
  const uint64_t disk_failures_before = disk_failures_injected;
  const uint64_t first = Simulation::SeedFromEnv(1);
  for (uint64_t s = first; s < first + SeedCount(6); ++s) {
    Scenario sc;
    sc.nodes = 5 + static_cast<int>(s % 3) * 3;
    RunChaos(s, sc);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(crashes_injected, crashes_before) << "no crash at a commit";
  EXPECT_GT(disk_failures_injected, disk_failures_before) << "no disk failure";
}

// Collection runs throughout: while nodes crash and partitions come and go,
// tombstones are collected wherever every member answers, and none of what
// they deleted comes back.
TEST(ReplicationSimTest, ChaosWithTombstoneGcLosesNothingAndResurrectsNothing) {
  const uint64_t crashes_before = crashes_injected;
  const uint64_t disk_failures_before = disk_failures_injected;
  const uint64_t first = Simulation::SeedFromEnv(21);
  for (uint64_t s = first; s < first + SeedCount(6); ++s) {
    Scenario sc;
    sc.nodes = 5 + static_cast<int>(s % 3) * 3;
    sc.gc = true;
    sc.max_graves = 2;
    sc.mode =
        s % 2 == 0 ? ConflictMode::kSiblings : ConflictMode::kLastWriteWins;
    RunChaos(s, sc);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(crashes_injected, crashes_before) << "no crash at a commit";
  EXPECT_GT(disk_failures_injected, disk_failures_before) << "no disk failure";
}

TEST(ReplicationSimTest, FiftyNodes) {
  const uint64_t disk_failures_before = disk_failures_injected;
  Scenario sc;
  sc.nodes = 50;
  sc.keys = 200;
  sc.chaos_ms = 30'000;
  RunChaos(Simulation::SeedFromEnv(77), sc);
  if (::testing::Test::HasFatalFailure()) return;
  sc.gc = true;
  sc.max_graves = 2;
  RunChaos(Simulation::SeedFromEnv(78), sc);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_GT(disk_failures_injected, disk_failures_before) << "no disk failure";
}

// Writes that wait for two of their three owners, through the same chaos:
// crashes between persist, send and acknowledge now fall on owners'
// answers too. Acknowledged writes are stored and kept; a write whose
// owners did not answer in time is stored and kept as well (its client
// heard an error, never OK).
TEST(ReplicationSimTest, QuorumWritesUnderChaos) {
  const uint64_t crashes_before = crashes_injected;
  const uint64_t first = Simulation::SeedFromEnv(61);
  for (uint64_t s = first; s < first + SeedCount(3); ++s) {
    Scenario sc;
    sc.quorum = 2;
    RunChaos(s, sc);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(crashes_injected, crashes_before) << "no crash at a commit";
}

TEST(ReplicationSimTest, LastWriteWinsConvergesToTheGlobalMaximum) {
  const uint64_t crashes_before = crashes_injected;
  const uint64_t disk_failures_before = disk_failures_injected;
  for (uint64_t s = 11; s <= 13; ++s) {
    Scenario sc;
    sc.mode = ConflictMode::kLastWriteWins;
    RunChaos(Simulation::SeedFromEnv(s), sc);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(crashes_injected, crashes_before) << "no crash at a commit";
  EXPECT_GT(disk_failures_injected, disk_failures_before) << "no disk failure";
}

}  // namespace
}  // namespace gossipkv
