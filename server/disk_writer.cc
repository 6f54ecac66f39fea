// DiskWriter: one job slot guarded by a mutex; the thread sleeps on a
// condition variable between writes.
#include "server/disk_writer.h"

namespace gossipkv {

DiskWriter::DiskWriter(asio::io_context& io)
    : io_(io), thread_([this] { Run(); }) {}

DiskWriter::~DiskWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void DiskWriter::Submit(std::function<Status()> write,
                        std::function<void(const Status&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(write);
    done_ = std::move(done);
  }
  wake_.notify_one();
}

void DiskWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || job_ != nullptr; });
    // A submitted write runs to its end even when stopping.
    if (job_ == nullptr) return;
    std::function<Status()> job = std::move(job_);
    std::function<void(const Status&)> done = std::move(done_);
    job_ = nullptr;
    done_ = nullptr;
    lock.unlock();
    Status status = job();
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_),
                     done = std::move(done), status] {
      if (alive.expired()) return;
      done(status);
    });
    lock.lock();
  }
}

}  // namespace gossipkv
