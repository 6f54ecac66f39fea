// Metrics: the registry's families and the scrape text.
#include "server/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace gossipkv {
namespace {

// From 50 µs (a read from the cache) to 10 s (a commit stuck on a disk).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};

const prometheus::Histogram::BucketBoundaries kSiblingBuckets = {1, 2, 3,
                                                                 4, 8, 16};

}  // namespace

Metrics::Metrics(const std::vector<std::string>& commands)
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& requests = prometheus::BuildCounter()
                       .Name("gossipkv_requests_total")
                       .Help(
                           "Client commands answered, by command and result "
                           "(ok, error, denied: refused by AUTH)")
                       .Register(*registry_);
  auto& latency =
      prometheus::BuildHistogram()
          .Name("gossipkv_request_duration_seconds")
          .Help("From reading a command to writing its reply, commit included")
          .Register(*registry_);
  auto add = [&](const std::string& name) {
    PerCommand c{};
    const char* results[] = {"ok", "error", "denied"};
    for (int r = 0; r < 3; ++r)
      c.results[r] = &requests.Add({{"command", name}, {"result", results[r]}});
    c.latency = &latency.Add({{"command", name}}, kLatencyBuckets);
    commands_.push_back(c);
  };
  add("unknown");
  for (const auto& name : commands) add(name);
  add("AUTH");  // answered by the session, not the executor
  read_siblings_ =
      &prometheus::BuildHistogram()
           .Name("gossipkv_read_siblings")
           .Help(
               "Versions a read found for a key (GET, MGET, VGET); above 1 "
               "are concurrent writes not yet resolved")
           .Register(*registry_)
           .Add({}, kSiblingBuckets);
}

void Metrics::Request(int command, Result result, double seconds) {
  const size_t i = command < 0 ? 0 : static_cast<size_t>(command) + 1;
  if (i >= commands_.size()) return;
  commands_[i].results[static_cast<int>(result)]->Increment();
  commands_[i].latency->Observe(seconds);
}

std::string Metrics::Serialize(
    std::vector<prometheus::MetricFamily> more) const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& family : more) families.push_back(std::move(family));
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

}  // namespace gossipkv
