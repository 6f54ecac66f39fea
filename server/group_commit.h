// GroupCommitter: the Asio face of the node's ReplicaDriver for client
// sessions. One WriteSet (the store's batch) gathers every session's writes
// of the current turn of the event loop, and one commit stores them all.
//
// Sessions execute their commands into batch(); a session that has replies
// depending on it (it wrote, or read while writes were pending) co_awaits
// Commit() before sending them. The first waiter posts the commit to the end
// of the io_context's ready queue, so every session whose data arrived in the
// same turn joins the same RocksDB write — one WAL append, and with
// durability = fsync one fsync, for all of them (group commit). Each waiter
// is completed, on its own timer, with the status of the commit that held
// its writes, whatever order waiters and commits were posted in.
//
// Lives on, and is only touched from, the io_context thread.
#pragma once

#include <asio.hpp>
#include <memory>

#include "driver/replica_driver.h"
#include "store/versioned_store.h"

namespace gossipkv {

class GroupCommitter {
 public:
  GroupCommitter(asio::io_context& io, VersionedStore& store);

  // The driver that orders commits and what waits for them; set by the
  // node before any session runs.
  void set_driver(ReplicaDriver* driver) { driver_ = driver; }

  // The batch of the current round: the store's one batch.
  WriteSet& batch() { return store_.batch(); }
  // True when a reply must wait for a commit.
  bool pending() const;

  // Waits until everything written so far is durable; that commit's status.
  asio::awaitable<Status> Commit();
  // Commits the current round soon, with nobody waiting (peer merges).
  void Schedule();

  uint64_t rounds() const { return rounds_; }

 private:
  void Flush();

  asio::io_context& io_;
  VersionedStore& store_;
  ReplicaDriver* driver_ = nullptr;
  bool flush_scheduled_ = false;
  uint64_t rounds_ = 0;
};

}  // namespace gossipkv
