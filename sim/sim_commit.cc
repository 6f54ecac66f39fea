// Simulation's commits: a batch staged, its write completing a disk
// latency later (or failing, as the faults decide), and a crash at any
// point between; the engine reopened after a failure.
#include <stdexcept>

#include "sim/sim_node.h"

namespace gossipkv {

void Simulation::AfterStep(int index) {
  Node& node = *nodes_[index];
  // A write in progress starts the next commit when it completes.
  if (!node.up || node.writing || !node.driver->commit_needed()) return;
  // While the engine refuses writes the commit fails at once, as the
  // server's does, so nothing waits on changes that cannot be stored.
  if (faults_.max_disk_latency_ms <= 0 ||
      (node.faulty && !node.faulty->Writable().ok())) {
    CommitAt(index);
    return;
  }
  if (node.commit_scheduled) return;
  node.commit_scheduled = true;
  Schedule({now_ + DiskLatency(), 0, EventKind::kCommit, index, -1,
            node.generation, 0, nullptr});
}

int64_t Simulation::DiskLatency() {
  return static_cast<int64_t>(
      random_.Uniform(static_cast<uint64_t>(faults_.max_disk_latency_ms) + 1));
}

void Simulation::CommitAt(int index) {
  if (StartWrite(index)) FinishWrite(index);
}

bool Simulation::CrashHere(Node& node, CrashPoint point) {
  if (node.crash != point) return false;
  ++traffic_.crashes;
  Down(node);
  const int64_t after =
      1000 + static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(
                 std::max<int64_t>(faults_.max_restart_ms, 1))));
  Schedule({now_ + after, 0, EventKind::kRestart, node.index, -1,
            node.generation, 0, nullptr});
  return true;
}

bool Simulation::StartWrite(int index) {
  Node& node = *nodes_[index];
  node.commit_scheduled = false;
  node.crash = node.crash_next;
  node.crash_next.reset();
  if (!node.crash && faults_.crash_at_commit > 0 &&
      random_.Bernoulli(faults_.crash_at_commit)) {
    node.crash = static_cast<CrashPoint>(random_.Uniform(3));
  }
  // Stages the batch (memory moves to it) or, with nothing to write or an
  // engine that cannot take the batch, ends the commit here.
  if (node.driver->StartCommit()) {
    node.writing = true;
    ++node.write_id;
    node.writing_durable = std::move(node.durable);
    node.durable.clear();
    return true;
  }
  std::vector<std::function<void()>> durable = std::move(node.durable);
  node.durable.clear();
  if (node.driver->last_status().ok()) {
    for (auto& d : durable)
      if (d) d();
  }
  return false;
}

void Simulation::ScheduleWritten(int index) {
  Node& node = *nodes_[index];
  Schedule({now_ + DiskLatency(), 0, EventKind::kWritten, index, -1,
            node.generation, node.write_id, nullptr});
}

void Simulation::FinishWrite(int index) {
  Node& node = *nodes_[index];
  node.writing = false;
  // A crash while the write was in progress: it never reached the disk,
  // though messages built on its staged state may have been produced.
  if (CrashHere(node, CrashPoint::kBeforePersist)) return;
  FaultyEngine* disk = node.faulty.get();
  const uint64_t failures = disk != nullptr ? disk->failures() : 0;
  if (disk != nullptr && faults_.disk_failure_per_commit > 0 &&
      random_.Bernoulli(faults_.disk_failure_per_commit)) {
    disk->FailNextWrite(random_.Bernoulli(0.5) ? DiskFault::kRefused
                                               : DiskFault::kAppliedButFailed);
  }
  Status status = node.store->engine().Write(node.store->staged());
  const bool injected = disk != nullptr && disk->failures() > failures;
  if (disk != nullptr) disk->Disarm();
  if (!status.ok() && !injected)
    throw std::runtime_error("sim commit: " + status.ToString());
  node.driver->Persisted(status);
  const bool stored =
      status.ok() ||
      (injected && disk->last_fault() == DiskFault::kAppliedButFailed);
  std::vector<std::function<void()>> durable = std::move(node.writing_durable);
  node.writing_durable.clear();
  // A failed write discards the batch gathered on top of it (the store
  // rebuilt its memory): those writes will never be stored either.
  if (!status.ok()) node.durable.clear();
  for (auto& d : durable) {
    if (d && stored) d();
  }
  if (injected) {
    ++traffic_.disk_failures;
    if (stored) ++traffic_.disk_failures_applied;
    const int64_t outage =
        100 + static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(
                  std::max<int64_t>(faults_.max_disk_outage_ms, 1))));
    Schedule({now_ + outage, 0, EventKind::kReopen, index, -1, node.generation,
              0, nullptr});
  }
  if (CrashHere(node, CrashPoint::kAfterPersist)) return;
  node.driver->SendReady();
  if (CrashHere(node, CrashPoint::kAfterSend)) return;
  node.driver->AckReady();
}

void Simulation::ReopenDisk(const std::string& id) {
  Node& node = At(id);
  if (!node.up || !node.faulty) return;
  const bool refusing = !node.faulty->Writable().ok();
  // The server's own reopening, after its disk_retry_ms.
  Status resumed = node.driver->ResumeWrites();
  if (!resumed.ok())
    throw std::runtime_error("sim reopen: " + resumed.ToString());
  if (refusing) ++traffic_.disk_reopens;
  AfterStep(node.index);
}

}  // namespace gossipkv
