// ReplicaDriver: hold data messages and replies behind the batch they
// depend on; release them in order after the commit that stores it.
#include "driver/replica_driver.h"

namespace gossipkv {

ReplicaDriver::ReplicaDriver(Replica& replica, VersionedStore* store, Send send)
    : replica_(replica), store_(store), send_(std::move(send)) {}

bool ReplicaDriver::VouchesForNothing(const pb::PeerMessage& message) {
  switch (message.body_case()) {
    case pb::PeerMessage::kRumor:
    case pb::PeerMessage::kAeTreeLevel:
    case pb::PeerMessage::kAeKeyHashes:
    case pb::PeerMessage::kAeEntries:
    case pb::PeerMessage::kAeInSync:
    case pb::PeerMessage::kGcQuery:
    case pb::PeerMessage::kGcAck:
    case pb::PeerMessage::kGcCollected:
      return false;
    default:
      return true;
  }
}

bool ReplicaDriver::batch_pending() const {
  return store_ != nullptr && store_->batch().size() > 0;
}

bool ReplicaDriver::commit_needed() const {
  return batch_pending() || !held_.empty() || !waiting_.empty();
}

void ReplicaDriver::Route(Outbox& out) {
  // A message produced while changes wait to be stored may describe them
  // (an anti-entropy reply reads through the batch, a GC ack may adopt a
  // grave): it waits, and so does everything after it, to keep the order.
  const bool hold = batch_pending() || !held_.empty() || !ready_.empty();
  for (auto& o : out) {
    if (hold && !VouchesForNothing(o.message)) {
      ++stats_.messages_held;
      held_.push_back(std::move(o));
    } else {
      send_(o);
    }
  }
  out.clear();
}

void ReplicaDriver::Tick(int64_t now_ms) {
  Outbox out;
  replica_.Tick(now_ms, out);
  Route(out);
}

void ReplicaDriver::Step(int64_t now_ms, const std::string& reply_to,
                         const pb::PeerMessage& message) {
  Outbox out;
  replica_.Step(now_ms, reply_to, message, out);
  Route(out);
}

void ReplicaDriver::StartAntiEntropy(int64_t now_ms,
                                     const std::string& address) {
  Outbox out;
  replica_.StartAntiEntropy(now_ms, address, out);
  Route(out);
}

void ReplicaDriver::Leave(int64_t now_ms) {
  Outbox out;
  replica_.Leave(now_ms, out);
  Route(out);
}

void ReplicaDriver::WhenDurable(Completion done) {
  // Commits run to completion within one call on the owner's thread, so
  // when none is needed, nothing written so far waits for one.
  if (!commit_needed() && ready_waiting_.empty()) {
    done(Status::Ok());
    return;
  }
  waiting_.push_back(std::move(done));
}

Status ReplicaDriver::Commit() {
  Status status = Persist();
  SendReady();
  AckReady();
  return status;
}

Status ReplicaDriver::Persist() {
  // What an earlier Persist() made ready leaves first, with its own status.
  SendReady();
  AckReady();
  Status status = Status::Ok();
  if (batch_pending()) status = store_->batch().Commit();
  for (auto& o : held_) ready_.push_back(std::move(o));
  held_.clear();
  for (auto& done : waiting_) ready_waiting_.push_back(std::move(done));
  waiting_.clear();
  ready_status_ = status;
  if (status.ok()) {
    ++stats_.commits;
    // The rumors of what this commit changed go first.
    Outbox rumors;
    replica_.FlushRumors(rumors);
    ready_.insert(ready_.begin(), std::make_move_iterator(rumors.begin()),
                  std::make_move_iterator(rumors.end()));
  } else {
    ++stats_.commit_failures;
    stats_.messages_dropped += ready_.size();
    ready_.clear();
  }
  return status;
}

void ReplicaDriver::SendReady() {
  Outbox ready = std::move(ready_);
  ready_.clear();
  for (auto& o : ready) send_(o);
}

void ReplicaDriver::AckReady() {
  std::vector<Completion> waiting = std::move(ready_waiting_);
  ready_waiting_.clear();
  for (auto& done : waiting) done(ready_status_);
}

Status ReplicaDriver::ResumeWrites() {
  if (store_ == nullptr) return Status::Ok();
  Engine& engine = store_->engine();
  if (engine.Writable().ok()) return Status::Ok();
  // Committed after the reopen, a change computed from memory that misses a
  // batch reported failed but stored would replace that batch's entries on
  // disk, and the reload would then hand out their dots again.
  if (commit_needed()) (void)Commit();
  GOSSIPKV_RETURN_IF_ERROR(engine.TryResume());
  return store_->ReloadFromDisk();
}

}  // namespace gossipkv
