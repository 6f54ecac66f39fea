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
#include <functional>
#include <memory>

#include "replication/versioned_store.h"

namespace gossipkv {

class GroupCommitter {
 public:
  GroupCommitter(asio::io_context& io, VersionedStore& store);

  // Runs after every successful commit (the node flushes rumors there, so
  // fresh writes leave for peers in the same loop turn).
  void set_after_commit(std::function<void()> hook) {
    after_commit_ = std::move(hook);
  }

  // The batch of the current round: the store's one batch.
  WriteSet& batch() { return store_.batch(); }
  // True when the current round holds uncommitted changes.
  bool pending() const { return store_.batch().size() > 0; }

  // Waits for the current round to be committed; its status.
  asio::awaitable<Status> Commit();
  // Commits the current round soon, with nobody waiting (peer merges).
  void Schedule();

  uint64_t rounds() const { return rounds_; }

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
  std::shared_ptr<Round> round_;
  bool flush_scheduled_ = false;
  std::function<void()> after_commit_;
  uint64_t rounds_ = 0;
};

}  // namespace gossipkv
