// The convergence experiment's parameters and outcomes, and their report:
// JSON, a CSV of each run's curve and, with gnuplot, a PNG of it. Used by
// bench/convergence_experiment.cc only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gossipkv {

struct Params {
  bool netns = false;
  bool lww = false;
  std::string partition;  // "n1,n2 | n3"; empty: halves
  int nodes = 3;
  int keys = 1000;
  int writes = 50;     // per side
  int conflicts = 10;  // of those, written on both sides
  int deletes = 10;    // loaded keys deleted on one side
  int base_port = 0;
  int replication_factor = 0;  // 0: the server's default (3)
};

struct Sample {
  double t;
  int agreeing;               // size of the largest group of equal roots
  size_t differing_segments;  // most between any pair (-1: not sampled)
};

struct Outcome {
  Params p;
  bool converged = false;
  bool checker = false;
  std::string checker_detail;
  double seconds = 0;
  uint64_t bytes = 0, messages = 0, keys_repaired = 0;
  std::vector<Sample> curve;
};

// Writes convergence.json and curve-*.csv (and curve-*.png with gnuplot)
// into `out`.
void WriteReport(const std::vector<Outcome>& runs,
                 const std::filesystem::path& out);

}  // namespace gossipkv
