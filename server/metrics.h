// Metrics: the node's Prometheus instruments and the text a scrape returns.
// Requests (by command and result), their latency and the siblings each
// read finds are prometheus-cpp counters and histograms in a Registry,
// updated as commands run. Everything else — what INFO shows, members by
// state, each peer's phi and convergence lag — is read from the node at
// scrape time (server/node_metrics.cc) and serialized with the registry's
// families. Owned by the node; used on its event-loop thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gossipkv {

class Metrics {
 public:
  enum class Result { kOk, kError, kDenied };

  // `commands`: the names of the known commands; index i of Request() is
  // commands[i], -1 an unknown command, auth_command() AUTH.
  explicit Metrics(const std::vector<std::string>& commands);
  int auth_command() const { return static_cast<int>(commands_.size()) - 2; }

  void Request(int command, Result result, double seconds);
  prometheus::Histogram& read_siblings() { return *read_siblings_; }

  // The Prometheus text format of the registry's families and `more`.
  std::string Serialize(std::vector<prometheus::MetricFamily> more) const;

 private:
  struct PerCommand {
    prometheus::Counter* results[3];  // by Result
    prometheus::Histogram* latency;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<PerCommand> commands_;  // [0]: unknown commands
  prometheus::Histogram* read_siblings_;
};

}  // namespace gossipkv
