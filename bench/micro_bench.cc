// Micro-benchmarks of the replication core: entry merge, canonical
// encode/decode, Merkle leaf update and tree diff, and the store's share of
// a client write (read, version, stage, cache) in groups as the server
// commits them. Also prints the memory of a Merkle tree at the default shape
// (S=16, F=16).
//
//   build/release/bench/micro_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>

#include "store/merkle_tree.h"
#include "store/versioned_store.h"
#include "util/clock.h"
#include "util/random.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

// An entry as it looks after `nodes` replicas each wrote concurrently.
Entry ConcurrentEntry(int nodes, int value_bytes, int64_t ts) {
  Entry merged;
  for (int n = 0; n < nodes; ++n) {
    Entry e;
    ApplyWrite(e, Actor{"node-" + std::to_string(n), 0x5eed0000ull + n},
               e.clock, std::string(value_bytes, 'v'), ts + n,
               ConflictMode::kSiblings);
    merged = Merge(merged, e, ConflictMode::kSiblings);
  }
  return merged;
}

void BM_MergeDisjoint(benchmark::State& state) {
  // Two replicas' concurrent writes: the common case after a partition.
  Entry a = ConcurrentEntry(1, 100, 1), b;
  ApplyWrite(b, Actor{"other", 9}, b.clock, std::string(100, 'w'), 2,
             ConflictMode::kSiblings);
  for (auto _ : state)
    benchmark::DoNotOptimize(Merge(a, b, ConflictMode::kSiblings));
}
BENCHMARK(BM_MergeDisjoint);

void BM_MergeIdentical(benchmark::State& state) {
  // A duplicate delivery: what rumor mongering mostly sees.
  Entry a = ConcurrentEntry(static_cast<int>(state.range(0)), 100, 1);
  for (auto _ : state)
    benchmark::DoNotOptimize(Merge(a, a, ConflictMode::kSiblings));
}
BENCHMARK(BM_MergeIdentical)->Arg(1)->Arg(3);

void BM_Encode(benchmark::State& state) {
  Entry e = ConcurrentEntry(static_cast<int>(state.range(0)), 100, 1);
  for (auto _ : state) benchmark::DoNotOptimize(EncodeEntry(e));
}
BENCHMARK(BM_Encode)->Arg(1)->Arg(3);

void BM_Decode(benchmark::State& state) {
  std::string bytes =
      EncodeEntry(ConcurrentEntry(static_cast<int>(state.range(0)), 100, 1));
  for (auto _ : state) benchmark::DoNotOptimize(DecodeEntry(bytes));
}
BENCHMARK(BM_Decode)->Arg(1)->Arg(3);

void BM_EntryHash(benchmark::State& state) {
  std::string bytes = EncodeEntry(ConcurrentEntry(1, 100, 1));
  for (auto _ : state)
    benchmark::DoNotOptimize(EntryHash("user:12345678", bytes));
}
BENCHMARK(BM_EntryHash);

void BM_MerkleUpdate(benchmark::State& state) {
  MerkleTree tree(MerkleShape{16, 4});
  Random random(1);
  std::vector<uint32_t> segments(4096);
  for (auto& s : segments) s = static_cast<uint32_t>(random.Uniform(1u << 16));
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    tree.Replace(segments[i & 4095], i, i * 31);
  }
  benchmark::DoNotOptimize(tree.Root());
}
BENCHMARK(BM_MerkleUpdate);

void BM_MerkleDiff(benchmark::State& state) {
  // Two trees of 1M keys differing in `range(0)` segments.
  const MerkleShape shape{16, 4};
  MerkleTree a(shape), b(shape);
  Random random(2);
  for (int k = 0; k < 1'000'000; ++k) {
    uint32_t seg = static_cast<uint32_t>(random.Uniform(shape.segment_count()));
    uint64_t h = random.Next64();
    a.Add(seg, h);
    b.Add(seg, h);
  }
  for (int64_t d = 0; d < state.range(0); ++d) {
    b.Add(static_cast<uint32_t>(random.Uniform(shape.segment_count())),
          random.Next64());
  }
  for (auto _ : state) benchmark::DoNotOptimize(MerkleTree::DiffSegments(a, b));
}
BENCHMARK(BM_MerkleDiff)->Arg(0)->Arg(1)->Arg(100)->Arg(10000);

// An engine that stores nothing: the store's own work of a write, without
// the engine's (which the server runs on its writer thread).
class DiscardEngine final : public Engine {
 public:
  Result<std::optional<std::string>> Get(Column, std::string_view) override {
    return std::optional<std::string>();
  }
  Status Scan(Column, std::string_view, std::string_view,
              const ScanVisitor&) override {
    return Status::Ok();
  }
  Status Write(const WriteBatch&) override { return Status::Ok(); }
  std::unique_ptr<EngineReader> NewSnapshot() override { return nullptr; }
};

// SETs of 100-byte values to random keys of 100,000 (as redis-benchmark
// -r 100000 -d 100), staged in groups of state.range(0) writes. Every key is
// written once before timing, so each write finds its key in the cache.
void BM_StoreWriteGroup(benchmark::State& state) {
  DiscardEngine engine;
  SystemClock clock;
  Random random(7);
  auto store =
      VersionedStore::Open(engine, "bench-node", StoreOptions{}, clock, random);
  if (!store) {
    state.SkipWithError("open failed");
    return;
  }
  constexpr int kKeys = 100'000;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(fmt::format("key:{:012}", i));
  const std::string value(100, 'x');
  auto write_group = [&](int group) {
    WriteSet& batch = (*store)->batch();
    for (int i = 0; i < group; ++i)
      benchmark::DoNotOptimize(
          batch.Write(keys[random.Uniform(kKeys)], value, nullptr));
    benchmark::DoNotOptimize(batch.Stage());
    benchmark::DoNotOptimize((*store)->Written(Status::Ok()));
  };
  for (int i = 0; i < kKeys; i += 1000) {
    WriteSet& batch = (*store)->batch();
    for (int k = i; k < i + 1000; ++k)
      benchmark::DoNotOptimize(batch.Write(keys[k], value, nullptr));
    benchmark::DoNotOptimize(batch.Stage());
    benchmark::DoNotOptimize((*store)->Written(Status::Ok()));
  }
  const int group = static_cast<int>(state.range(0));
  for (auto _ : state) write_group(group);
  state.SetItemsProcessed(state.iterations() * group);
}
BENCHMARK(BM_StoreWriteGroup)->Arg(1)->Arg(800);

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  gossipkv::MerkleTree tree(gossipkv::MerkleShape{16, 4});
  std::printf("merkle tree memory at S=16, F=16: %zu bytes (%.1f KiB)\n",
              tree.MemoryBytes(), tree.MemoryBytes() / 1024.0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
