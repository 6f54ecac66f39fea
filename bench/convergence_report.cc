// Convergence report: JSON, per-run CSV curves and gnuplot PNGs.
#include "bench/convergence_report.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

namespace gossipkv {

namespace fs = std::filesystem;

void WriteReport(const std::vector<Outcome>& runs, const fs::path& out) {
  fs::create_directories(out);
  std::ofstream json(out / "convergence.json");
  json << "[\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    json << fmt::format(
        "  {{\"nodes\": {}, \"replication_factor\": {}, \"keys\": {}, "
        "\"writes_per_side\": {}, \"conflicts\": {}, "
        "\"converged\": {}, \"seconds\": {:.3f}, \"bytes\": {}, \"messages\": "
        "{}, "
        "\"keys_repaired\": {}, \"checker\": {}}}{}\n",
        r.p.nodes, r.p.replication_factor, r.p.keys, r.p.writes, r.p.conflicts,
        r.converged, r.seconds, r.bytes, r.messages, r.keys_repaired,
        r.checker ? "\"pass\"" : "\"fail\"", i + 1 < runs.size() ? "," : "");
    const std::string name =
        fmt::format("curve-{}n-{}k-{}w", r.p.nodes, r.p.keys, r.p.writes);
    std::ofstream csv(out / (name + ".csv"));
    csv << "seconds,agreeing_replicas,most_differing_segments\n";
    for (const auto& s : r.curve) {
      csv << fmt::format("{:.3f},{},{}\n", s.t, s.agreeing,
                         s.differing_segments == static_cast<size_t>(-1)
                             ? std::string()
                             : std::to_string(s.differing_segments));
    }
    csv.close();
    if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
      std::ofstream gp(out / (name + ".gp"));
      gp << "set terminal pngcairo size 900,500\n"
         << fmt::format("set output '{}'\n", (out / (name + ".png")).string())
         << fmt::format(
                "set title 'Convergence after heal: {} nodes, {} keys, {} "
                "writes per side, {} conflicting'\n",
                r.p.nodes, r.p.keys, r.p.writes, r.p.conflicts)
         << "set datafile separator ','\nset xlabel 'seconds after heal'\n"
         << "set ylabel 'differing segments (worst pair)'\nset y2label "
            "'replicas agreeing'\n"
         << fmt::format(
                "set y2range [0:{}]\nset y2tics 1\nset ytics nomirror\nset key "
                "top right\n",
                r.p.nodes + 1)
         << fmt::format(
                "plot '{0}' using 1:3 with linespoints title 'differing "
                "segments', "
                "'{0}' using 1:2 axes x1y2 with steps lw 2 title 'replicas "
                "agreeing'\n",
                (out / (name + ".csv")).string());
      gp.close();
      if (std::system(
              fmt::format("gnuplot '{}'", (out / (name + ".gp")).string())
                  .c_str()) != 0) {
        std::fprintf(stderr, "gnuplot failed for %s\n", name.c_str());
      }
    }
  }
  json << "]\n";
}

}  // namespace gossipkv
