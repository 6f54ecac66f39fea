// DiskWriter: the server's writer thread. The event loop hands it one
// engine write at a time — a staged group commit — and it runs the write
// (RocksDB's log append and, with durability = fsync, the fsync), then
// posts the outcome back to the loop. Meanwhile the loop keeps parsing
// commands and gathering the next group, as in leveldb's writer queue with
// the loop as the only producer.
//
// Submit and the completions run on the io_context thread; the write itself
// runs on the writer thread and must touch only what is safe there (the
// engine's Write and the staged batch, which nobody changes until the
// completion). Destroying the writer waits for a running write; a
// completion not yet run by then is dropped.
#pragma once

#include <asio.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "util/status.h"

namespace gossipkv {

class DiskWriter {
 public:
  explicit DiskWriter(asio::io_context& io);
  ~DiskWriter();
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;

  // Runs `write` on the writer thread, then `done` with its status on the
  // io_context. One write at a time: not before the last one's `done` ran.
  void Submit(std::function<Status()> write,
              std::function<void(const Status&)> done);

 private:
  void Run();

  asio::io_context& io_;
  // Completions check it, so none runs after the writer is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::function<Status()> job_;
  std::function<void(const Status&)> done_;
  std::thread thread_;
};

}  // namespace gossipkv
