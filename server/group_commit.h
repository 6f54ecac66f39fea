// GroupCommitter: the Asio face of the node's ReplicaDriver for client
// sessions. One WriteSet (the store's batch) gathers every session's writes
// of the current turn of the event loop, and one commit stores them all.
//
// Sessions execute their commands into batch(); a session that has replies
// depending on it (it wrote, or read while a commit was pending or being
// written) co_awaits Commit() before sending them. The first waiter posts
// the commit to the end of the io_context's ready queue, so every session
// whose data arrived in the same turn joins the same RocksDB write — one
// WAL append, and with durability = fsync one fsync, for all of them (group
// commit). The write runs on the DiskWriter's thread; while it does, the
// loop keeps serving and gathers the next group, which is staged as soon as
// the write completes. Each waiter is completed, on its own timer, with the
// status of the commit that held its writes, whatever order waiters and
// commits were posted in.
//
// Lives on, and is only touched from, the io_context thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>

#include "driver/replica_driver.h"
#include "server/disk_writer.h"
#include "store/versioned_store.h"

namespace gossipkv {

class GroupCommitter {
 public:
  GroupCommitter(asio::io_context& io, VersionedStore& store);

  // The driver that orders commits and what waits for them, and the
  // node's monotonic clock (ms); set by the node before any session runs.
  void set_driver(ReplicaDriver* driver, std::function<int64_t()> clock) {
    driver_ = driver;
    clock_ = std::move(clock);
  }

  // The batch of the current round: the store's one batch.
  WriteSet& batch() { return store_.batch(); }
  // True when a reply must wait for a commit (one is pending or being
  // written).
  bool pending() const;

  // Waits until everything written so far is durable; that commit's status.
  asio::awaitable<Status> Commit();
  // Commit(), then, with `quorum` above 1, until that many owners of each
  // of `keys` hold it (ReplicaDriver::WhenReplicated): an Unavailable
  // status when too few answered in time, with the keys that were short.
  struct Outcome {
    Status status;
    std::vector<std::string> short_keys;
  };
  asio::awaitable<Outcome> Commit(std::vector<std::string> keys,
                                  uint32_t quorum);
  // A quorum read of `keys` (ReplicaDriver::Read): once `quorum` owners
  // answered for each, or at the deadline, and what this node answered
  // from is durable.
  struct QuorumRead {
    Status status;  // of the commit this node's answer waited for
    std::vector<KeyRead> reads;
  };
  asio::awaitable<QuorumRead> Read(std::vector<std::string> keys,
                                   uint32_t quorum);
  // Commits the current round soon, with nobody waiting (peer merges).
  void Schedule();

  uint64_t rounds() const { return rounds_; }

 private:
  void Flush();
  // The writer's outcome for the commit in flight.
  void Written(const Status& status);

  asio::io_context& io_;
  VersionedStore& store_;
  ReplicaDriver* driver_ = nullptr;
  std::function<int64_t()> clock_;
  DiskWriter writer_;
  bool flush_scheduled_ = false;
  uint64_t rounds_ = 0;
};

}  // namespace gossipkv
