// Node: opening the data directory, wiring the replica to the transports,
// MEMBERS and FAULT, the endpoints file.
#include "server/node.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>

#include "server/peer_handshake.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

namespace fs = std::filesystem;

namespace {
constexpr auto kTickInterval = std::chrono::milliseconds(100);

}  // namespace

Node::Node(const Config& config, asio::io_context& io)
    : config_(config),
      io_(io),
      random_(Random::EntropySeed()),
      filter_(random_.Next64()),
      tick_timer_(io),
      disk_timer_(io),
      started_(std::chrono::steady_clock::now()) {}

Node::~Node() { Stop(); }

Result<std::unique_ptr<Node>> Node::Open(const Config& config,
                                         asio::io_context& io) {
  std::error_code ec;
  fs::create_directories(fs::path(config.data_dir) / "db", ec);
  if (ec) {
    return Status::IOError(fmt::format("cannot create data directory {}: {}",
                                       config.data_dir, ec.message()));
  }
  std::unique_ptr<Node> node(new Node(config, io));
  auto engine = RocksDBEngine::Open(
      (fs::path(config.data_dir) / "db").string(),
      RocksDBOptions{config.durability, size_t{config.block_cache_mb} << 20,
                     size_t{config.write_buffer_mb} << 20});
  if (!engine) return engine.error();
  node->engine_ = std::move(*engine);
  if (Status writable = node->engine_->Writable(); !writable.ok()) {
    spdlog::error(
        "data directory {} has no room: serving reads, refusing writes, and "
        "retrying every {} ms ({})",
        config.data_dir, config.disk_retry_ms, writable.message());
    node->disk_refusing_ = true;
  }
  auto store = VersionedStore::Open(
      *node->engine_, config.node_id,
      StoreOptions{config.merkle, config.conflict_mode,
                   size_t{config.entry_cache_mb} << 20,
                   config.replication.max_graves,
                   config.replication.grave_min_age_ms, MaxEntryBytes(config)},
      node->clock_, node->random_);
  if (!store) return store.error();
  node->store_ = std::move(*store);
  if (node->store_->corrupt_records() > 0) {
    spdlog::error(
        "{} stored records do not frame and were skipped (first: {}); the node "
        "serves every "
        "other key",
        node->store_->corrupt_records(),
        node->store_->corrupt_samples().front());
  }
  if (node->store_->member_record().members_malformed) {
    spdlog::warn(
        "the stored member list does not decode and was left out: this node "
        "learns its members again by gossip, from its seeds");
  }
  if (node->store_->corrupt_graves() > 0) {
    spdlog::error(
        "{} graves of collected tombstones did not decode and were dropped",
        node->store_->corrupt_graves());
  }
  if (node->store_->fresh_epoch()) {
    spdlog::info("new data directory: node {} starts epoch {:x}",
                 config.node_id, node->store_->self().epoch);
  }
  node->executor_ =
      std::make_unique<CommandExecutor>(*node->store_, config.limits, *node);
  node->auth_ = std::make_unique<Authenticator>(config.auth);
  node->listener_ = std::make_unique<ClientListener>(
      io, *node->executor_, config.limits, *node->auth_);
  Node* raw = node.get();
  if (config.metrics.enabled()) {
    node->metrics_ = std::make_unique<Metrics>(CommandExecutor::CommandNames());
    node->executor_->set_read_siblings(&node->metrics_->read_siblings());
    node->listener_->set_metrics(node->metrics_.get());
    node->metrics_listener_ = std::make_unique<MetricsListener>(
        io, config.metrics,
        [raw] { return raw->metrics_->Serialize(raw->CollectMetrics()); });
  }
  node->peers_ = std::make_unique<PeerTransport>(
      io,
      PeerTransport::Options{
          config.cluster_name, config.node_id, "",
          config.replication.max_frame_bytes,
          config.replication.max_peer_queue_bytes, config.peer_bind.host,
          CompatibilityOf(config), config.peer.connect_timeout_ms,
          config.peer.handshake_timeout_ms, config.peer.write_timeout_ms,
          config.peer.max_connections, size_t{1} << 20,
          config.peer.idle_close_ms, config.peer_tls},
      [raw](const std::string& from, const pb::PeerMessage& m) {
        raw->OnPeerMessage(from, m);
      });
  return node;
}

Status Node::Start() {
  GOSSIPKV_RETURN_IF_ERROR(listener_->Listen(config_.client_bind));
  if (config_.client_tls.enabled())
    GOSSIPKV_RETURN_IF_ERROR(listener_->ListenTls(config_.client_tls));
  GOSSIPKV_RETURN_IF_ERROR(peers_->Listen(config_.peer_bind));
  if (metrics_listener_) GOSSIPKV_RETURN_IF_ERROR(metrics_listener_->Listen());
  auto advertise = [](const Endpoint& advertised, const Endpoint& bind,
                      uint16_t port) {
    if (!advertised.host.empty() && advertised.port != 0)
      return advertised.ToString();
    return Endpoint{bind.host, port}.ToString();
  };
  const std::string peer_address =
      advertise(config_.peer_advertise, config_.peer_bind, peers_->port());
  const std::string client_address = advertise(
      config_.client_advertise, config_.client_bind, listener_->port());
  if (config_.peer_bind.host == "0.0.0.0" || config_.peer_bind.host == "::") {
    if (config_.peer_advertise.port == 0) {
      return Status::InvalidArgument(
          "peer.bind listens on every address: set peer.advertise to the "
          "address peers use");
    }
  }
  peers_->set_advertise_address(peer_address);

  pb::MemberState self;
  self.set_node_id(config_.node_id);
  self.set_peer_address(peer_address);
  self.set_client_address(client_address);
  // A counter stored in meta and bumped at every start, never the clock:
  // a restart supersedes older states however far behind the clock is.
  Status stored;
  self.set_incarnation(Replica::NextIncarnation(*store_, &stored));
  if (!stored.ok())
    spdlog::error("cannot store incarnation {}: {}", self.incarnation(),
                  stored.ToString());
  ReplicaOptions options;
  options.membership.gossip_interval_ms = config_.gossip.interval_ms;
  options.membership.fanout = config_.gossip.fanout;
  options.membership.phi_threshold = config_.gossip.phi_threshold;
  options.membership.dead_after_ms = config_.gossip.dead_after_ms;
  for (const auto& seed : config_.seeds)
    options.membership.seeds.push_back(seed.ToString());
  options.rumor.fanout = config_.replication.rumor_fanout;
  options.rumor.max_message_bytes = config_.replication.max_message_bytes;
  options.anti_entropy.interval_ms =
      config_.replication.anti_entropy_interval_ms;
  options.anti_entropy.max_message_bytes =
      config_.replication.max_message_bytes;
  options.anti_entropy.bytes_per_second =
      config_.replication.repair_bytes_per_second;
  // The transport's room, less what the driver holds for a commit.
  options.anti_entropy.link_free_bytes = [this](const std::string& address) {
    const uint64_t free = peers_->FreeBytes(address);
    const uint64_t held = driver_ ? driver_->HeldBytes(address) : 0;
    return free > held ? free - held : 0;
  };
  options.anti_entropy.max_frame_bytes = config_.replication.max_frame_bytes;
  options.gc.interval_ms = config_.replication.gc_interval_ms;
  options.gc.batch_keys = config_.replication.gc_batch_keys;
  options.gc.max_message_bytes = config_.replication.max_message_bytes;
  options.coordinator.request_timeout_ms =
      config_.replication.request_timeout_ms;
  options.coordinator.max_message_bytes = config_.replication.max_message_bytes;
  options.coordinator.read_repair = config_.replication.read_repair;
  options.coordinator.max_pending_repairs =
      config_.replication.max_pending_repairs;
  options.coordinator.hinted_handoff = config_.replication.hinted_handoff;
  options.coordinator.hint_window_ms = config_.replication.hint_window_ms;
  options.coordinator.max_hint_bytes_per_owner =
      uint64_t{config_.replication.max_hint_mb_per_owner} << 20;
  options.coordinator.hint_replay_bytes_per_second =
      config_.replication.hint_replay_bytes_per_second;
  listener_->set_write_quorum(config_.replication.write_quorum);
  listener_->set_read_quorum(config_.replication.read_quorum,
                             config_.replication.request_timeout_ms);
  options.ring.replication_factor = config_.replication.replication_factor;
  options.ring.partition_bits =
      static_cast<int>(config_.replication.partition_bits);
  replica_ =
      std::make_unique<Replica>(self, options, random_, NowMs(), store_.get());
  driver_ = std::make_unique<ReplicaDriver>(*replica_, store_.get(),
                                            [this](Outgoing& o) { Send(o); });
  driver_->set_clock([this] { return NowMs(); });
  listener_->committer().set_driver(driver_.get(), [this] { return NowMs(); });

  listener_->Start();
  peers_->Start();
  if (metrics_listener_) metrics_listener_->Start();
  asio::co_spawn(io_, TickLoop(), asio::detached);
  asio::co_spawn(io_, DiskRetryLoop(), asio::detached);
  spdlog::info(
      "node {} serving clients on {} and peers on {} ({} keys, merkle root "
      "{:016x})",
      config_.node_id, client_address, peer_address, store_->live_key_count(),
      store_->tree().Root());
  // A full disk must not keep the node from serving what it stores.
  if (Status written = WriteEndpointsFile(); !written.ok()) {
    spdlog::error("{}: tools that read it will not find this node",
                  written.message());
  }
  return Status::Ok();
}

asio::awaitable<void> Node::TickLoop() {
  while (!stopped_) {
    driver_->Tick(NowMs());
    LogLifecycle();
    // Tombstones collected on this tick join the next group commit.
    CommitChanges();
    tick_timer_.expires_after(kTickInterval);
    asio::error_code ec;
    co_await tick_timer_.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
  }
}

void Node::CommitChanges() {
  if (!driver_->commit_needed()) return;
  if (engine_->Writable().ok() || driver_->commit_in_flight()) {
    listener_->committer().Schedule();
    return;
  }
  // The commit fails at once, without writing, and drops what waited for
  // it; committing now, before any client reads the batch, keeps reads from
  // waiting on (and failing with) peer changes that cannot be stored.
  (void)driver_->Commit();
}

asio::awaitable<void> Node::DiskRetryLoop() {
  while (!stopped_) {
    disk_timer_.expires_after(std::chrono::milliseconds(config_.disk_retry_ms));
    asio::error_code ec;
    co_await disk_timer_.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    Status writable = engine_->Writable();
    if (writable.ok()) {
      // A reload that failed is tried again.
      if (store_->reload_needed()) (void)driver_->ResumeWrites();
      continue;
    }
    if (!disk_refusing_) {
      disk_refusing_ = true;
      spdlog::error(
          "cannot write to the data directory: refusing writes and retrying "
          "every {} ms ({})",
          config_.disk_retry_ms, writable.message());
    }
    // The engine is reopened only while no write runs.
    if (driver_->commit_in_flight()) continue;
    // A write reported failed may have reached the log that the reopen
    // replayed: memory is rebuilt from the disk before writes resume.
    Status resumed = driver_->ResumeWrites();
    if (engine_->Writable().ok()) {
      if (!resumed.ok()) {
        spdlog::error("cannot reload the store after reopening it: {}",
                      resumed.ToString());
      }
      disk_refusing_ = false;
      spdlog::info("the data directory takes writes again: writes accepted");
    }
  }
}

void Node::Send(Outgoing& o) {
  if (!filter_.Allows(replica_->membership().IdAt(o.to))) return;
  peers_->Send(o.to, o.message);
}

void Node::OnPeerMessage(const std::string& from_address,
                         const pb::PeerMessage& message) {
  if (stopped_ || !filter_.Allows(message.from())) return;
  driver_->Step(NowMs(), from_address, message);
  // Merged entries join the current group commit; replies that depend on
  // them leave after it.
  CommitChanges();
}

void Node::Shutdown(std::function<void()> done) {
  // A stop is a restart, not a departure: peers see the node go quiet and
  // wait for it (CLUSTER LEAVE is how a node leaves for good). What it
  // merged is stored first (after the write in flight), and what waited for
  // that leaves.
  asio::co_spawn(io_, FinalCommit(std::move(done)), asio::detached);
}

asio::awaitable<void> Node::FinalCommit(std::function<void()> done) {
  if (driver_ && !stopped_ && listener_->committer().pending()) {
    Status status = co_await listener_->committer().Commit();
    if (!status.ok())
      spdlog::error("final commit failed: {}", status.ToString());
  }
  // Give what was just sent a moment on the wire, then stop.
  asio::steady_timer timer(io_, std::chrono::milliseconds(200));
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  Stop();
  done();
}

void Node::Stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  disk_timer_.cancel();
  if (listener_) listener_->Stop();
  if (peers_) peers_->Stop();
  if (metrics_listener_) metrics_listener_->Stop();
  std::error_code ignored;
  fs::remove(fs::path(config_.data_dir) / "endpoints", ignored);
}

Status Node::WriteEndpointsFile() {
  const fs::path path = fs::path(config_.data_dir) / "endpoints";
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "node_id=" << config_.node_id << "\n"
      << "client=" << replica_->membership().self().client_address() << "\n"
      << "peer=" << replica_->membership().self().peer_address() << "\n"
      << "pid=" << getpid() << "\n";
    if (config_.client_tls.enabled())
      f << "tls=" << config_.client_tls.bind.host << ":"
        << listener_->tls_port() << "\n";
    if (metrics_listener_)
      f << "metrics=" << config_.metrics.bind.host << ":"
        << metrics_listener_->port() << "\n";
    f.flush();
    if (!f) return Status::IOError("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // atomic: readers never see half a file
  if (ec)
    return Status::IOError(
        fmt::format("cannot write {}: {}", path.string(), ec.message()));
  return Status::Ok();
}

std::vector<MemberView> Node::Members() {
  return replica_->membership().Members(NowMs());
}

void Node::Fault(const std::vector<std::string>& args, std::string& out) {
  if (!config_.fault_injection) {
    resp::AppendError(out,
                      "ERR FAULT is disabled on this node: start it with "
                      "fault_injection = true "
                      "(or --fault-injection)");
    return;
  }
  const std::string sub = AsciiUpper(args[0]);
  std::vector<std::string> ids(args.begin() + 1, args.end());
  if (sub == "BLOCK" && !ids.empty()) {
    filter_.Block(ids);
    spdlog::warn("fault injection: blocking traffic with {}",
                 fmt::join(ids, ", "));
    resp::AppendSimple(out, "OK");
  } else if (sub == "UNBLOCK") {
    // Nothing more: a peer heard from again after a gap starts repair
    // (Membership's gap_phi), however the link was cut.
    filter_.Unblock(ids);
    resp::AppendSimple(out, "OK");
  } else if (sub == "DROP" && ids.size() == 1) {
    double p = -1;
    auto [end, ec] =
        std::from_chars(ids[0].data(), ids[0].data() + ids[0].size(), p);
    if (ec != std::errc() || end != ids[0].data() + ids[0].size() ||
        !(p >= 0 && p <= 1)) {
      resp::AppendError(out,
                        "ERR FAULT DROP takes a probability between 0 and 1");
      return;
    }
    filter_.set_drop_probability(p);
    resp::AppendSimple(out, "OK");
  } else if (sub == "STATUS" && ids.empty()) {
    resp::AppendBulk(
        out, fmt::format("blocked:{}\r\ndrop_probability:{}\r\ndropped:{}\r\n",
                         fmt::join(filter_.blocked(), ","),
                         filter_.drop_probability(), filter_.dropped()));
  } else {
    resp::AppendError(
        out,
        "ERR usage: FAULT BLOCK id [id ...] | FAULT UNBLOCK [id ...] | "
        "FAULT DROP probability | FAULT STATUS");
  }
}

}  // namespace gossipkv
