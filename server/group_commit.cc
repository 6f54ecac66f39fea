// GroupCommitter: a round is a shared WriteSet plus a timer used as a
// one-shot event (cancelled when the round is committed).
#include "server/group_commit.h"

#include <spdlog/spdlog.h>

namespace gossipkv {

GroupCommitter::GroupCommitter(asio::io_context& io, VersionedStore& store)
    : io_(io), store_(store), round_(std::make_shared<Round>(io)) {}

void GroupCommitter::Schedule() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  asio::post(io_, [this] { Flush(); });
}

asio::awaitable<Status> GroupCommitter::Commit() {
  auto round = round_;
  Schedule();
  if (!round->finished) {
    round->done.expires_at(asio::steady_timer::time_point::max());
    asio::error_code ignored;
    co_await round->done.async_wait(
        asio::redirect_error(asio::use_awaitable, ignored));
  }
  co_return round->status;
}

void GroupCommitter::Flush() {
  flush_scheduled_ = false;
  auto round = std::move(round_);
  round_ = std::make_shared<Round>(io_);
  round->status = store_.batch().Commit();
  ++rounds_;
  if (!round->status.ok()) {
    spdlog::error("group commit failed: {}", round->status.ToString());
  } else if (after_commit_) {
    after_commit_();
  }
  round->finished = true;
  round->done.cancel();
}

}  // namespace gossipkv
