// Micro-benchmarks of the replication core: entry merge, canonical
// encode/decode, Merkle leaf update and tree diff. Also prints the memory of
// a Merkle tree at the default shape (S=16, F=16).
//
//   build/release/bench/micro_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>

#include "store/merkle_tree.h"
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
