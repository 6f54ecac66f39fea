// Fills under the deterministic simulator: a node that joins empty is
// filled by one stream from one peer, whichever peers see it arrive, and a
// fill cut by a restart of either side resumes from the cursor the joiner
// stored rather than from the first segment.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "sim/simulation.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr int64_t kInterval = 1000;
constexpr int kKeys = 3000;

ReplicaOptions Options() {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = kInterval;
  o.membership.seeds = {"n0"};
  o.membership.dead_after_ms = 5000;
  o.anti_entropy.interval_ms = 0;  // only sessions reachability starts
  o.anti_entropy.max_message_bytes = 4096;
  o.gc.interval_ms = 0;
  return o;
}

// The same first `keys` entries on `node`, written as repair so that only
// anti-entropy carries them; returns their encoded size.
uint64_t Fill(Simulation& sim, const std::string& node, int keys = kKeys) {
  uint64_t bytes = 0;
  for (int i = 0; i < keys; ++i) {
    Entry e;
    ApplyWrite(e, Actor{"w", 1}, e.clock, "value-" + std::to_string(i), i,
               ConflictMode::kSiblings);
    bytes += EncodeEntry(e).size();
    EXPECT_TRUE(
        sim.store(node).batch().Merge("k" + std::to_string(i), e, kRepair));
  }
  EXPECT_TRUE(sim.store(node).batch().Commit().ok());
  return bytes;
}

uint64_t PushedBy(Simulation& sim, std::initializer_list<const char*> ids) {
  uint64_t pushed = 0;
  for (const char* id : ids) pushed += sim.replica(id).stats().ae_keys_pushed;
  return pushed;
}

TEST(FillSimTest, AJoinIsOneCopyFromOnePeer) {
  Simulation sim(5, NetworkOptions{});
  for (const char* id : {"n0", "n1", "n2"}) sim.AddNode(id, Options(), true);
  sim.RunFor(5 * kInterval);
  uint64_t data_bytes = 0;
  for (const char* id : {"n0", "n1", "n2"}) data_bytes = Fill(sim, id);
  const uint64_t pushed_before = PushedBy(sim, {"n0", "n1", "n2"});
  // Every member sees n3 arrive and opens a session with it, as it does
  // with n3's first heartbeat; n3 opens one with each of them.
  sim.AddNode("n3", Options(), true);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n3").tree().Root() == sim.store("n0").tree().Root();
      },
      60'000));
  sim.RunFor(5 * kInterval);
  EXPECT_EQ(sim.store("n3").key_count(), static_cast<uint64_t>(kKeys));
  const ReplicationStats& joiner = sim.replica("n3").stats();
  EXPECT_EQ(joiner.ae_fills_finished, 1u);
  EXPECT_EQ(joiner.ae_keys_pulled, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(PushedBy(sim, {"n0", "n1", "n2"}) - pushed_before,
            static_cast<uint64_t>(kKeys))
      << "one stream, each entry once";
  EXPECT_LE(joiner.ae_entry_bytes_received, data_bytes * 11 / 10);
  EXPECT_EQ(sim.store("n3").member_record().fill_next, std::nullopt);
}

// A node that holds a few of the keys (back after a long absence) asks
// every member for a session when it returns; each answers with its root
// and key count, and the node takes a fill from one of them only.
TEST(FillSimTest, AFarBehindNodeIsFilledByOneStream) {
  Simulation sim(8, NetworkOptions{});
  for (const char* id : {"n0", "n1", "n2"}) sim.AddNode(id, Options(), true);
  sim.RunFor(5 * kInterval);
  for (const char* id : {"n0", "n1", "n2"}) Fill(sim, id);
  const uint64_t pushed_before = PushedBy(sim, {"n0", "n1", "n2"});
  sim.AddNode("n3", Options(), true);
  Fill(sim, "n3", 100);  // the first 100 keys, as the others hold them
  // n3 asks each member at once; each sends its root back (`answer`).
  for (const char* id : {"n0", "n1", "n2"}) sim.StartAntiEntropy("n3", id);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n3").tree().Root() == sim.store("n0").tree().Root();
      },
      60'000));
  sim.RunFor(5 * kInterval);
  uint64_t streams = 0;
  for (const char* id : {"n0", "n1", "n2"})
    streams += sim.replica(id).stats().ae_streams_started;
  EXPECT_EQ(streams, 1u);
  EXPECT_EQ(sim.replica("n3").stats().ae_fills_finished, 1u);
  EXPECT_LE(PushedBy(sim, {"n0", "n1", "n2"}) - pushed_before,
            static_cast<uint64_t>(kKeys));
}

// Over a network that loses, duplicates and delays messages, the fill
// still ends in one copy and a few resends: chunks count only whole, the
// check session repairs what was lost.
TEST(FillSimTest, AFillOverALossyNetworkConverges) {
  NetworkOptions network{1, 50, 0.05, 0.05, 0.05, 2000};
  Simulation sim(10, network);
  ReplicaOptions o = Options();
  o.anti_entropy.interval_ms = 3000;  // lost session messages: try again
  sim.AddNode("n0", o, true);
  sim.RunFor(2 * kInterval);
  Fill(sim, "n0");
  sim.AddNode("n1", o, true);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n1").tree().Root() == sim.store("n0").tree().Root();
      },
      120'000));
  EXPECT_EQ(sim.store("n1").key_count(), static_cast<uint64_t>(kKeys));
  EXPECT_LE(sim.replica("n0").stats().ae_keys_pushed,
            static_cast<uint64_t>(kKeys * 13 / 10));
}

// A stream chunk nobody asked for (a stream from before a restart, or a
// stale duplicate) is declined, and does not make the node think it is
// being filled.
TEST(FillSimTest, AChunkNotAskedForStartsNoFill) {
  Simulation sim(9, NetworkOptions{});
  sim.AddNode("n0", Options(), true);
  sim.AddNode("n1", Options(), true);
  sim.RunFor(5 * kInterval);
  Fill(sim, "n0", 100);
  Fill(sim, "n1", 100);
  pb::PeerMessage stray;
  stray.set_from("n0");
  auto* chunk = stray.mutable_ae_entries();
  chunk->set_session(424242);
  chunk->set_stream(true);
  chunk->set_from_segment(50);
  chunk->set_next_segment(51);
  chunk->set_chunk_messages(1);
  sim.Inject("n0", "n1", stray);
  sim.RunFor(kInterval);
  EXPECT_EQ(sim.store("n1").member_record().fill_next, std::nullopt);
  EXPECT_EQ(sim.replica("n1").stats().ae_sessions_declined, 1u);
  // n1 still opens sessions (it is not waiting for a fill).
  const uint64_t in_sync = sim.replica("n1").stats().ae_sessions_in_sync;
  sim.StartAntiEntropy("n1", "n0");
  sim.RunFor(kInterval);
  EXPECT_EQ(sim.replica("n1").stats().ae_sessions_in_sync, in_sync + 1);
}

// A node whose own fill was cut short holds a part of the store: it does
// not fill another with it (which would then think itself complete); with
// it, an empty node is repaired by an ordinary descent.
TEST(FillSimTest, AHalfFilledNodeFillsNoOne) {
  Simulation sim(11, NetworkOptions{});
  sim.AddNode("n0", Options(), true);
  sim.RunFor(2 * kInterval);
  Fill(sim, "n0", kKeys / 2);
  MemberRecord record = sim.store("n0").batch().member_record();
  record.fill_next = 100;
  sim.store("n0").batch().SetMemberRecord(record);
  ASSERT_TRUE(sim.store("n0").batch().Commit().ok());
  sim.AddNode("n1", Options(), true);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n1").tree().Root() == sim.store("n0").tree().Root();
      },
      60'000));
  EXPECT_EQ(sim.replica("n0").stats().ae_streams_started, 0u);
  EXPECT_EQ(sim.replica("n1").stats().ae_fills_finished, 0u);
  EXPECT_EQ(sim.store("n1").key_count(), static_cast<uint64_t>(kKeys / 2));
  // Nor do the two decline each other for ever: the descent ended it.
  const uint64_t declined = sim.replica("n0").stats().ae_sessions_declined +
                            sim.replica("n1").stats().ae_sessions_declined;
  sim.RunFor(10 * kInterval);
  EXPECT_EQ(sim.replica("n0").stats().ae_sessions_declined +
                sim.replica("n1").stats().ae_sessions_declined,
            declined);
}

// The stream waits for room on its link, counting the chunks that wait in
// n0's driver for a commit (n0 takes client writes as it streams, and its
// disk is slow): no chunk is dropped by a full link, so the fill ends with
// each key sent once. (Counting only the link, chunks released during a
// commit overflow it, and the fill never ends.) Rumors of the writes may
// still drop on the full link: anti-entropy carries what they missed.
TEST(FillSimTest, AStreamCountsWhatWaitsForACommitAgainstItsLink) {
  NetworkOptions network;
  network.max_queue_bytes = 3 * 4096;
  Simulation sim(7, network);
  FaultOptions faults;
  faults.max_disk_latency_ms = 300;
  sim.set_faults(faults);
  sim.AddNode("n0", Options(), true);
  sim.RunFor(2 * kInterval);
  Fill(sim, "n0");
  sim.AddNode("n1", Options(), true);
  int written = 0;
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        (void)sim.Submit("n0", "w" + std::to_string(written++ % 50), "x",
                         nullptr, {});
        return sim.replica("n1").stats().ae_fills_finished > 0;
      },
      120'000, /*check_ms=*/10));
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n1").tree().Root() == sim.store("n0").tree().Root();
      },
      60'000));
  EXPECT_EQ(sim.store("n1").key_count(),
            static_cast<uint64_t>(kKeys + std::min(written, 50)));
  // Each streamed key once; the 50 rewritten ones a few times more.
  EXPECT_LE(sim.replica("n0").stats().ae_keys_pushed,
            static_cast<uint64_t>(kKeys + 10 * 50));
}

// n0 holds the keys and streams them to n1 slowly; at about half way
// `restarted` is restarted, keeping its disk.
void ResumeAfterRestartOf(const std::string& restarted) {
  SCOPED_TRACE("restart of " + restarted);
  Simulation sim(6, NetworkOptions{});
  ReplicaOptions o = Options();
  o.anti_entropy.bytes_per_second = 64 << 10;  // a few seconds of stream
  sim.AddNode("n0", o, true);
  sim.RunFor(2 * kInterval);
  Fill(sim, "n0");
  sim.AddNode("n1", o, true);
  ASSERT_TRUE(sim.RunUntil(
      [&] { return sim.store("n1").key_count() >= kKeys / 2; }, 60'000));
  ASSERT_LT(sim.store("n1").key_count(), static_cast<uint64_t>(kKeys));
  const uint64_t held = sim.store("n1").key_count();
  ASSERT_TRUE(sim.store("n1").member_record().fill_next.has_value());
  const uint64_t pushed_before =
      restarted == "n0" ? 0 : sim.replica("n0").stats().ae_keys_pushed;
  sim.Restart(restarted);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("n1").tree().Root() == sim.store("n0").tree().Root();
      },
      120'000));
  EXPECT_EQ(sim.store("n1").key_count(), static_cast<uint64_t>(kKeys));
  const uint64_t pushed =
      sim.replica("n0").stats().ae_keys_pushed - pushed_before;
  // From the cursor: what n1 lacked, and a few chunks it had not stored
  // or that were in flight; from the first segment it would be all kKeys.
  EXPECT_LE(pushed, kKeys - held + kKeys / 10) << "held " << held;
  sim.RunFor(5 * kInterval);
  EXPECT_EQ(sim.store("n1").member_record().fill_next, std::nullopt);
}

TEST(FillSimTest, AFillResumesFromTheCursorAfterTheJoinerRestarts) {
  ResumeAfterRestartOf("n1");
}

TEST(FillSimTest, AFillResumesFromTheCursorAfterTheStreamerRestarts) {
  ResumeAfterRestartOf("n0");
}

}  // namespace
}  // namespace gossipkv
