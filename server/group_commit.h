// GroupCommitter: one WriteSet shared by every client session of a node for
// the current turn of the event loop, committed once for all of them.
//
// Sessions execute their commands into batch(); a session that has replies
// depending on it (it wrote, or read while writes were pending) co_awaits
// Commit() before sending them. The first waiter posts the commit to the end
// of the io_context's ready queue, so every session whose data arrived in the
// same turn joins the same RocksDB write — one WAL append, and with
// durability = fsync one fsync, for all of them (group commit).
//
// Lives on, and is only touched from, the io_context thread.
#pragma once

#include <asio.hpp>
#include <memory>

#include "replication/versioned_store.h"

namespace gossipkv {

class GroupCommitter {
 public:
  GroupCommitter(asio::io_context& io, VersionedStore& store);

  // The batch of the current round.
  WriteSet& batch() { return *batch_; }
  // True when the current round holds uncommitted changes.
  bool pending() const { return batch_->size() > 0; }

  // Waits for the current round to be committed; its status.
  asio::awaitable<Status> Commit();

  uint64_t rounds() const { return rounds_; }
  uint64_t failures() const { return failures_; }

 private:
  struct Round {
    explicit Round(asio::io_context& io) : done(io) {}
    Status status;
    bool finished = false;
    asio::steady_timer done;  // cancelled when the round commits
  };
  void Flush();

  asio::io_context& io_;
  VersionedStore& store_;
  std::unique_ptr<WriteSet> batch_;
  std::shared_ptr<Round> round_;
  bool flush_scheduled_ = false;
  uint64_t rounds_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace gossipkv
