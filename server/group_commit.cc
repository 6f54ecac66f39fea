// GroupCommitter: each waiter owns a timer used as a one-shot event,
// cancelled by the driver's completion of the commit that holds its writes;
// a commit is staged on the loop and written by the DiskWriter.
#include "server/group_commit.h"

#include <spdlog/spdlog.h>

namespace gossipkv {

namespace {
struct Waiter {
  explicit Waiter(asio::io_context& io) : done(io) {}
  GroupCommitter::Outcome outcome;
  bool finished = false;
  asio::steady_timer done;
};
}  // namespace

GroupCommitter::GroupCommitter(asio::io_context& io, VersionedStore& store)
    : io_(io), store_(store), writer_(io) {}

bool GroupCommitter::pending() const {
  if (driver_ == nullptr) return store_.batch().size() > 0;
  return driver_->commit_needed() || driver_->commit_in_flight();
}

void GroupCommitter::Schedule() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  asio::post(io_, [this] { Flush(); });
}

asio::awaitable<Status> GroupCommitter::Commit() {
  Outcome outcome = co_await Commit({}, 1);
  co_return outcome.status;
}

asio::awaitable<GroupCommitter::Outcome> GroupCommitter::Commit(
    std::vector<std::string> keys, uint32_t quorum) {
  auto waiter = std::make_shared<Waiter>(io_);
  waiter->done.expires_at(asio::steady_timer::time_point::max());
  driver_->WhenReplicated(
      std::move(keys), quorum,
      [waiter](const Status& status, std::vector<std::string> short_keys) {
        waiter->outcome = {status, std::move(short_keys)};
        waiter->finished = true;
        waiter->done.cancel();
      });
  if (!waiter->finished) Schedule();
  while (!waiter->finished) {
    asio::error_code ignored;
    co_await waiter->done.async_wait(
        asio::redirect_error(asio::use_awaitable, ignored));
  }
  co_return std::move(waiter->outcome);
}

asio::awaitable<GroupCommitter::QuorumRead> GroupCommitter::Read(
    std::vector<std::string> keys, uint32_t quorum) {
  struct ReadWaiter {
    explicit ReadWaiter(asio::io_context& io) : done(io) {}
    asio::steady_timer done;
    bool finished = false;
    QuorumRead result;
  };
  auto waiter = std::make_shared<ReadWaiter>(io_);
  waiter->done.expires_at(asio::steady_timer::time_point::max());
  driver_->Read(clock_(), std::move(keys), quorum,
                [waiter](const Status& status, std::vector<KeyRead> reads) {
                  waiter->result = {status, std::move(reads)};
                  waiter->finished = true;
                  waiter->done.cancel();
                });
  // The replies it sends wait for no commit, but this node's answer may.
  if (!waiter->finished && driver_->commit_needed()) Schedule();
  while (!waiter->finished) {
    asio::error_code ignored;
    co_await waiter->done.async_wait(
        asio::redirect_error(asio::use_awaitable, ignored));
  }
  co_return std::move(waiter->result);
}

void GroupCommitter::Flush() {
  flush_scheduled_ = false;
  // A commit being written: its completion starts the next one.
  if (driver_->commit_in_flight() || !driver_->commit_needed()) return;
  ++rounds_;
  // Nothing to write (or the engine refuses writes): the commit is over.
  if (!driver_->StartCommit()) return;
  writer_.Submit(
      [&store = store_] { return store.engine().Write(store.staged()); },
      [this](const Status& status) { Written(status); });
}

void GroupCommitter::Written(const Status& status) {
  if (!status.ok()) spdlog::error("group commit failed: {}", status.ToString());
  driver_->Persisted(status);
  driver_->SendReady();
  driver_->AckReady();
  // The group gathered while this one was written goes next.
  Flush();
}

}  // namespace gossipkv
