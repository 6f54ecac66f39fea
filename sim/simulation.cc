// Simulation: an event queue ordered by (virtual time, sequence number), so
// equal-time events run in a fixed order and a seed replays exactly.
#include "sim/simulation.h"

#include <cstdlib>
#include <stdexcept>

namespace gossipkv {

Simulation::Simulation(uint64_t seed, NetworkOptions network, int64_t tick_ms)
    : seed_(seed), network_(network), tick_ms_(tick_ms), random_(seed) {}

uint64_t Simulation::SeedFromEnv(uint64_t fallback) {
  const char* env = std::getenv("GOSSIPKV_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : fallback;
}

void Simulation::Boot(Node& node) {
  node.replica.reset();
  node.store.reset();
  if (node.with_store) {
    if (!node.engine) node.engine = std::make_unique<MemoryEngine>();
    auto store = VersionedStore::Open(*node.engine, node.id, node.store_options,
                                      clock_, *node.random);
    if (!store)
      throw std::runtime_error("sim store: " + store.error().ToString());
    node.store = std::move(*store);
  }
  pb::MemberState self;
  self.set_node_id(node.id);
  self.set_peer_address(node.id);
  self.set_client_address(node.id + ":client");
  self.set_incarnation(static_cast<uint64_t>(now_));
  node.replica = std::make_unique<Replica>(self, node.options, *node.random,
                                           now_, node.store.get());
}

void Simulation::AddNode(const std::string& id, const ReplicaOptions& options,
                         bool with_store, StoreOptions store_options) {
  if (index_.count(id)) throw std::invalid_argument("duplicate node " + id);
  const int index = static_cast<int>(nodes_.size());
  Node node;
  node.id = id;
  node.options = options;
  node.random = std::make_unique<Random>(random_.Next64());
  node.with_store = with_store;
  node.store_options = store_options;
  nodes_.push_back(std::move(node));
  index_[id] = index;
  Boot(nodes_.back());
  // Ticks start at a random phase within one tick.
  Schedule(now_ + static_cast<int64_t>(
                      random_.Uniform(static_cast<uint64_t>(tick_ms_))),
           index, "", nullptr);
}

void Simulation::Crash(const std::string& id) {
  nodes_.at(index_.at(id)).up = false;
}

void Simulation::Leave(const std::string& id) {
  const int index = index_.at(id);
  Outbox out;
  nodes_.at(index).replica->Leave(now_, out);
  Dispatch(index, out);
  Crash(id);
}

void Simulation::Restart(const std::string& id, bool lose_data) {
  Node& node = nodes_.at(index_.at(id));
  node.up = true;
  if (lose_data) {
    node.replica.reset();
    node.store.reset();
    node.engine.reset();
  }
  Boot(node);
}

Result<Entry> Simulation::Write(const std::string& id, const std::string& key,
                                std::optional<std::string> value,
                                const VersionVector* context) {
  const int index = index_.at(id);
  Node& node = nodes_[index];
  if (!node.up) return Status::IOError(id + " is down");
  std::optional<std::string_view> v;
  if (value) v = *value;
  auto written = node.store->Write(key, v, context);
  if (written) {
    Outbox out;
    node.replica->FlushRumors(out);
    Dispatch(index, out);
  }
  return written;
}

Result<std::optional<Entry>> Simulation::Get(const std::string& id,
                                             const std::string& key) {
  return nodes_.at(index_.at(id)).store->Get(key);
}

void Simulation::StartAntiEntropy(const std::string& from,
                                  const std::string& to) {
  const int index = index_.at(from);
  Outbox out;
  nodes_[index].replica->StartAntiEntropy(now_, to, out);
  Dispatch(index, out);
}

VersionedStore& Simulation::store(const std::string& id) {
  return *nodes_.at(index_.at(id)).store;
}

bool Simulation::IsUp(const std::string& id) const {
  return nodes_.at(index_.at(id)).up;
}

void Simulation::Partition(
    const std::vector<std::vector<std::string>>& groups) {
  for (auto& n : nodes_) n.group = -1;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& id : groups[g])
      nodes_.at(index_.at(id)).group = static_cast<int>(g);
  }
  // A node named in no group is alone.
  int next = static_cast<int>(groups.size());
  for (auto& n : nodes_) {
    if (n.group < 0) n.group = next++;
  }
}

void Simulation::Heal() {
  for (auto& n : nodes_) n.group = 0;
}

Replica& Simulation::replica(const std::string& id) {
  return *nodes_.at(index_.at(id)).replica;
}

std::vector<std::string> Simulation::node_ids() const {
  std::vector<std::string> ids;
  for (const auto& n : nodes_) ids.push_back(n.id);
  return ids;
}

void Simulation::Schedule(int64_t time, int node, std::string from,
                          std::shared_ptr<const pb::PeerMessage> message) {
  queue_.push(Event{time, seq_++, node, std::move(from), std::move(message)});
}

void Simulation::Dispatch(int from, Outbox& out) {
  const Node& sender = nodes_[from];
  for (auto& o : out) {
    ++traffic_.messages;
    const uint64_t size = o.message.ByteSizeLong() + 4;  // + length prefix
    traffic_.bytes += size;
    traffic_.largest = std::max(traffic_.largest, size);
    auto it = index_.find(o.to);
    if (it == index_.end() || nodes_[it->second].group != sender.group ||
        random_.Bernoulli(network_.loss)) {
      ++traffic_.dropped;
      continue;
    }
    auto message =
        std::make_shared<const pb::PeerMessage>(std::move(o.message));
    const auto latency = [&] {
      return network_.min_latency_ms +
             static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(
                 network_.max_latency_ms - network_.min_latency_ms + 1)));
    };
    Schedule(now_ + latency(), it->second, sender.id, message);
    if (random_.Bernoulli(network_.duplicate))
      Schedule(now_ + latency(), it->second, sender.id, message);
  }
  out.clear();
}

void Simulation::Process(const Event& e) {
  Node& node = nodes_[e.node];
  Outbox out;
  if (!e.message) {  // a tick
    Schedule(now_ + tick_ms_, e.node, "", nullptr);
    if (!node.up) return;
    node.replica->Tick(now_, out);
  } else {
    if (!node.up) return;
    // A partition raised while the message was in flight cuts it too.
    if (nodes_[index_.at(e.from)].group != node.group) {
      ++traffic_.dropped;
      return;
    }
    node.replica->Step(now_, e.from, *e.message, out);
  }
  // The driver commits what the replica merged, then sends its rumors.
  if (node.store && node.store->batch().size() > 0) {
    if (!node.store->batch().Commit().ok())
      throw std::runtime_error("sim commit failed");
    node.replica->FlushRumors(out);
  }
  Dispatch(e.node, out);
}

void Simulation::RunFor(int64_t ms) {
  const int64_t end = now_ + ms;
  while (!queue_.empty() && queue_.top().time <= end) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.time;
    Process(e);
  }
  now_ = end;
}

bool Simulation::RunUntil(const std::function<bool()>& done, int64_t timeout_ms,
                          int64_t check_ms) {
  const int64_t end = now_ + timeout_ms;
  while (now_ < end) {
    if (done()) return true;
    RunFor(std::min(check_ms, end - now_));
  }
  return done();
}

}  // namespace gossipkv
