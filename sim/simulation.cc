// Simulation: an event queue ordered by (virtual time, sequence number), so
// equal-time events run in a fixed order and a seed replays exactly.
#include "sim/simulation.h"

#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "sim/sim_node.h"

namespace gossipkv {

Simulation::Simulation(uint64_t seed, NetworkOptions network, int64_t tick_ms)
    : seed_(seed), network_(network), tick_ms_(tick_ms), random_(seed) {}

Simulation::~Simulation() = default;

uint64_t Simulation::SeedFromEnv(uint64_t fallback) {
  const char* env = std::getenv("GOSSIPKV_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : fallback;
}

Simulation::Node& Simulation::At(const std::string& id) {
  return *nodes_.at(IndexOf(id));
}

void Simulation::Boot(Node& node) {
  node.driver.reset();
  node.replica.reset();
  node.store.reset();
  node.faulty.reset();
  node.rocks.reset();
  if (node.with_store) {
    Engine* engine = nullptr;
    if (engine_kind_ == SimEngine::kMemory) {
      if (!node.memory) node.memory = std::make_unique<MemoryEngine>();
      engine = node.memory.get();
    } else {
      if (!node.disk) node.disk = std::make_unique<InMemoryDisk>();
      RocksDBOptions options;
      options.disk = node.disk.get();
      options.block_cache_bytes = 4 << 20;
      options.write_buffer_bytes = 4 << 20;  // flushes and compactions run
      auto rocks = RocksDBEngine::Open("/sim/" + node.id, options);
      if (!rocks)
        throw std::runtime_error("sim engine: " + rocks.error().ToString());
      node.rocks = std::move(*rocks);
      engine = node.rocks.get();
    }
    node.faulty = std::make_unique<FaultyEngine>(*engine);
    auto store = VersionedStore::Open(*node.faulty, node.id, node.store_options,
                                      *node.clock, *node.random);
    if (!store)
      throw std::runtime_error("sim store: " + store.error().ToString());
    node.store = std::move(*store);
  }
  pb::MemberState self;
  self.set_node_id(node.id);
  self.set_peer_address(node.id);
  self.set_client_address(node.id + ":client");
  // As the server: a stored counter bumped at every start, never a clock.
  if (node.store) {
    Status stored;
    node.incarnation = Replica::NextIncarnation(*node.store, &stored);
    if (!stored.ok())
      throw std::runtime_error("sim incarnation: " + stored.ToString());
  } else {
    ++node.incarnation;
  }
  self.set_incarnation(node.incarnation);
  node.replica = std::make_unique<Replica>(
      self, node.options, *node.random, node.clock->Read(), node.store.get());
  const int index = node.index;
  node.driver = std::make_unique<ReplicaDriver>(
      *node.replica, node.store.get(),
      [this, index](Outgoing& o) { Send(index, o); });
  node.driver->set_clock([clock = node.clock.get()] { return clock->Read(); });
  node.durable.clear();
  node.writing_durable.clear();
  node.writing = false;
  node.up = true;
  node.commit_scheduled = false;
  ++node.generation;
}

void Simulation::Down(Node& node) {
  // The process is gone: its batch, held messages and waiting clients with
  // it. The objects stay until the next boot so tests can read its disk.
  node.up = false;
  node.commit_scheduled = false;
  node.durable.clear();
  node.writing_durable.clear();
  node.writing = false;
  ++node.generation;
}

void Simulation::AddNode(const std::string& id, const ReplicaOptions& options,
                         bool with_store, StoreOptions store_options) {
  if (index_.count(id)) throw std::invalid_argument("duplicate node " + id);
  auto node = std::make_unique<Node>();
  node->index = static_cast<int>(nodes_.size());
  node->id = id;
  node->options = options;
  // Repair streams see their link's room, as the server's see its queue.
  const int from = node->index;
  node->options.anti_entropy.link_free_bytes =
      [this, from](const std::string& address) -> uint64_t {
    if (network_.max_queue_bytes == 0) return UINT64_MAX;
    auto it = index_.find(address);
    if (it == index_.end()) return network_.max_queue_bytes;
    const Node& node = *nodes_[from];
    const uint64_t queued = in_flight_[{from, it->second}] +
                            (node.driver ? node.driver->HeldBytes(address) : 0);
    return queued >= network_.max_queue_bytes
               ? 0
               : network_.max_queue_bytes - queued;
  };
  node->options.anti_entropy.max_frame_bytes = network_.max_frame_bytes;
  node->random = std::make_unique<Random>(random_.Next64());
  const int64_t skew =
      faults_.max_clock_skew_ms == 0
          ? 0
          : static_cast<int64_t>(random_.Uniform(
                static_cast<uint64_t>(2 * faults_.max_clock_skew_ms + 1))) -
                faults_.max_clock_skew_ms;
  const double drift = (random_.UnitDouble() * 2 - 1) * faults_.max_clock_drift;
  node->clock = std::make_unique<NodeClock>(now_, skew, drift);
  node->with_store = with_store;
  node->store_options = store_options;
  const int index = node->index;
  nodes_.push_back(std::move(node));
  index_[id] = index;
  Boot(*nodes_.back());
  // Ticks start at a random phase within one tick.
  Schedule({now_ + static_cast<int64_t>(
                       random_.Uniform(static_cast<uint64_t>(tick_ms_))),
            0, EventKind::kTick, index, -1, 0, 0, nullptr});
}

void Simulation::Crash(const std::string& id) { Down(At(id)); }

void Simulation::CrashAtNextCommit(const std::string& id, CrashPoint point) {
  At(id).crash_next = point;
}

void Simulation::Shutdown(const std::string& id) {
  Node& node = At(id);
  if (!node.up) return;
  if (node.writing) FinishWrite(node.index);
  if (node.up && node.driver->commit_needed()) CommitAt(node.index);
  if (node.up) Down(node);
}

void Simulation::Leave(const std::string& id) {
  Node& node = At(id);
  node.driver->Leave(node.clock->Read());
  Down(node);
}

Status Simulation::Forget(const std::string& at, const std::string& id) {
  Node& node = At(at);
  if (!node.up) return Status::IOError(at + " is down");
  Status forgotten = node.driver->Forget(id);
  AfterStep(node.index);
  return forgotten;
}

void Simulation::SetClockSkew(const std::string& id, int64_t skew_ms) {
  At(id).clock->Reset(skew_ms);
}

void Simulation::Restart(const std::string& id, bool lose_data) {
  Node& node = At(id);
  if (node.up) Down(node);
  if (lose_data) {
    node.incarnation = 0;
    node.driver.reset();
    node.replica.reset();
    node.store.reset();
    node.faulty.reset();
    node.rocks.reset();
    node.memory.reset();
    node.disk.reset();
  }
  Boot(node);
}

Result<Entry> Simulation::Submit(const std::string& id, const std::string& key,
                                 std::optional<std::string> value,
                                 const VersionVector* context,
                                 WriteCallbacks callbacks, uint32_t quorum) {
  Node& node = At(id);
  if (!node.up) return Status::IOError(id + " is down");
  if (node.faulty) GOSSIPKV_RETURN_IF_ERROR(node.faulty->Writable());
  std::optional<std::string_view> v;
  if (value) v = *value;
  auto written = node.store->batch().Write(key, v, context);
  if (!written) return written;
  node.durable.push_back(std::move(callbacks.durable));
  node.driver->WhenReplicated(
      {key}, quorum,
      [acked = std::move(callbacks.acked), failed = std::move(callbacks.failed),
       answered = std::move(callbacks.answered)](const Status& s,
                                                 std::vector<std::string>) {
        if (s.ok() && acked) acked();
        if (!s.ok() && failed) failed();
        if (answered) answered(s);
      });
  AfterStep(node.index);
  return written;
}

Result<Entry> Simulation::Write(const std::string& id, const std::string& key,
                                std::optional<std::string> value,
                                const VersionVector* context) {
  auto acked = std::make_shared<bool>(false);
  auto written = Submit(id, key, std::move(value), context,
                        {nullptr, [acked] { *acked = true; }, nullptr});
  if (!written) return written;
  Node& node = At(id);
  // Stored now, whatever the disk latency; a crash or a disk failure the
  // faults inject on the way makes it an error.
  if (node.up && node.writing) FinishWrite(node.index);
  if (node.up && node.driver->commit_needed()) CommitAt(node.index);
  if (!node.up) return Status::IOError(id + " crashed before storing it");
  if (!*acked) return Status::IOError(id + " failed to store it");
  return written;
}

Status Simulation::Read(const std::string& id,
                        const std::vector<std::string>& keys, uint32_t quorum,
                        ReplicaDriver::ReadCompletion done) {
  Node& node = At(id);
  if (!node.up) return Status::IOError(id + " is down");
  node.driver->Read(node.clock->Read(), keys, quorum, std::move(done));
  AfterStep(node.index);
  return Status::Ok();
}

Result<std::optional<Entry>> Simulation::Get(const std::string& id,
                                             const std::string& key) {
  return At(id).store->Get(key);
}

void Simulation::StartAntiEntropy(const std::string& from,
                                  const std::string& to) {
  Node& node = At(from);
  node.driver->StartAntiEntropy(node.clock->Read(), to);
  AfterStep(node.index);
}

VersionedStore& Simulation::store(const std::string& id) {
  return *At(id).store;
}

FaultyEngine& Simulation::engine(const std::string& id) {
  return *At(id).faulty;
}

bool Simulation::IsUp(const std::string& id) const {
  return nodes_.at(IndexOf(id))->up;
}

int64_t Simulation::LocalNow(const std::string& id) const {
  return nodes_.at(IndexOf(id))->clock->Read();
}

void Simulation::Partition(
    const std::vector<std::vector<std::string>>& groups) {
  for (auto& n : nodes_) n->group = -1;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& id : groups[g]) At(id).group = static_cast<int>(g);
  }
  // A node named in no group is alone.
  int next = static_cast<int>(groups.size());
  for (auto& n : nodes_) {
    if (n->group < 0) n->group = next++;
  }
}

void Simulation::Heal() {
  for (auto& n : nodes_) n->group = 0;
}

Replica& Simulation::replica(const std::string& id) { return *At(id).replica; }

const ReplicaDriver& Simulation::driver(const std::string& id) const {
  return *nodes_.at(IndexOf(id))->driver;
}

std::vector<std::string> Simulation::node_ids() const {
  std::vector<std::string> ids;
  for (const auto& n : nodes_) ids.push_back(n->id);
  return ids;
}

void Simulation::Schedule(Event e) {
  e.seq = seq_++;
  queue_.push(std::move(e));
}

void Simulation::Inject(const std::string& from, const std::string& to,
                        const pb::PeerMessage& message, int64_t delay_ms) {
  Schedule({now_ + delay_ms, 0, EventKind::kMessage, IndexOf(to), IndexOf(from),
            0, 0, std::make_shared<const pb::PeerMessage>(message)});
}

void Simulation::Send(int from, Outgoing& o) {
  const Node& sender = *nodes_[from];
  if (send_observer_) send_observer_(sender.id, o.to, o.message);
  ++traffic_.messages;
  const uint64_t size = o.message.ByteSizeLong() + 4;  // + length prefix
  traffic_.bytes += size;
  traffic_.largest = std::max(traffic_.largest, size);
  auto it = index_.find(o.to);
  if (network_.max_frame_bytes > 0 && size > network_.max_frame_bytes) {
    ++traffic_.dropped;
    ++traffic_.oversized;
    return;
  }
  if (it == index_.end() || nodes_[it->second]->group != sender.group ||
      random_.Bernoulli(network_.loss)) {
    ++traffic_.dropped;
    return;
  }
  const int to = it->second;
  auto message = std::make_shared<const pb::PeerMessage>(std::move(o.message));
  const int copies = random_.Bernoulli(network_.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    uint64_t& queued = in_flight_[{from, to}];
    if (network_.max_queue_bytes > 0 &&
        queued + size > network_.max_queue_bytes) {
      ++traffic_.dropped;
      ++traffic_.queue_full;
      continue;
    }
    queued += size;
    const bool slow = random_.Bernoulli(network_.slow);
    const int64_t max =
        slow ? network_.max_slow_latency_ms : network_.max_latency_ms;
    const int64_t latency =
        network_.min_latency_ms +
        static_cast<int64_t>(random_.Uniform(
            static_cast<uint64_t>(max - network_.min_latency_ms + 1)));
    Schedule(
        {now_ + latency, 0, EventKind::kMessage, to, from, 0, size, message});
  }
}

void Simulation::Process(const Event& e) {
  Node& node = *nodes_[e.node];
  switch (e.kind) {
    case EventKind::kTick:
      Schedule(
          {now_ + tick_ms_, 0, EventKind::kTick, e.node, -1, 0, 0, nullptr});
      if (!node.up) return;
      node.driver->Tick(node.clock->Read());
      break;
    case EventKind::kMessage: {
      if (e.size > 0) in_flight_[{e.from, e.node}] -= e.size;
      if (!node.up) return;
      // A partition raised while the message was in flight cuts it too.
      if (nodes_[e.from]->group != node.group) {
        ++traffic_.dropped;
        return;
      }
      node.driver->Step(node.clock->Read(), nodes_[e.from]->id, *e.message);
      break;
    }
    case EventKind::kCommit:
      // A commit that already ran (Shutdown, Write) leaves its event stale.
      if (!node.up || e.generation != node.generation ||
          !node.commit_scheduled || node.writing ||
          !node.driver->commit_needed())
        return;
      // The loop stages the batch; the write completes a disk latency
      // later, while the node goes on stepping and gathering the next.
      if (StartWrite(e.node)) ScheduleWritten(e.node);
      return;
    case EventKind::kWritten:
      if (!node.up || e.generation != node.generation || !node.writing ||
          e.size != node.write_id)
        return;
      FinishWrite(e.node);
      break;
    case EventKind::kRestart:
      if (!node.up && e.generation == node.generation) Boot(node);
      return;
    case EventKind::kReopen:
      // A crash since then reopened the engine at its restart.
      if (node.up && e.generation == node.generation) ReopenDisk(node.id);
      return;
  }
  AfterStep(e.node);
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
