// GroupCommitter: a round is a shared WriteSet plus a timer used as a
// one-shot event (cancelled when the round is committed).
#include "server/group_commit.h"

#include <spdlog/spdlog.h>

namespace gossipkv {

GroupCommitter::GroupCommitter(asio::io_context& io, VersionedStore& store)
    : io_(io),
      store_(store),
      batch_(std::make_unique<WriteSet>(store)),
      round_(std::make_shared<Round>(io)) {}

asio::awaitable<Status> GroupCommitter::Commit() {
  auto round = round_;
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    asio::post(io_, [this] { Flush(); });
  }
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
  round->status = batch_->Commit();
  ++rounds_;
  if (!round->status.ok()) {
    ++failures_;
    spdlog::error("group commit failed: {}", round->status.ToString());
  }
  round->finished = true;
  round->done.cancel();
}

}  // namespace gossipkv
